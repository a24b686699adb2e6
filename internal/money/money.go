// Package money formats amounts held as integer cents.
package money

import (
	"fmt"
	"strconv"
	"strings"
)

// Format renders cents in currency for people: "$30.00" for 3000 USD, "12.50 EUR" for
// other currencies, with thousands separated ("$1,200.00").
func Format(cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	amount := fmt.Sprintf("%s.%02d", b.String(), cents%100)
	if currency == "USD" || currency == "" {
		return sign + "$" + amount
	}
	return sign + amount + " " + currency
}
