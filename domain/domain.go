// Package domain holds the value types of ordersaga's domain, each with the rule it must
// satisfy and the check that applies it: identifiers, SKUs, coupon codes, quantities, countries, money,
// order lines and free text with its limits. The public API and the four services check
// their input with these, so that each limit lives in one place. A failed check is a
// field error of package validate; package httpx renders it as a 422 problem.
//
// The types are string and integer kinds: a request field is checked by converting it,
// domain.SKU(req.SKU).Check(&v, "sku"), and stored as it came.
package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ordersaga/ordersaga/internal/validate"
)

// ID identifies an order, a customer or a product: 1 to 100 characters, letters, digits
// and "-_.:", starting with a letter or digit. No such ID needs escaping in a URL path or
// a log line, and PostgreSQL can store any of them.
type ID string

// IDRule says what an ID must be, for error messages.
const IDRule = "must be an ID (letters, digits, -_.:)"

// Valid reports whether id follows the rule.
func (id ID) Valid() bool {
	if len(id) == 0 || len(id) > 100 {
		return false
	}
	for i, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && (r == '-' || r == '_' || r == '.' || r == ':'):
		default:
			return false
		}
	}
	return true
}

// Check records an error for field on v unless id is valid.
func (id ID) Check(v *validate.Validator, field string) { v.Check(id.Valid(), field, IDRule) }

// SKU is a product's stock-keeping unit; it follows the rule of ID.
type SKU string

// SKURule says what a SKU must be, for error messages.
const SKURule = "must be a SKU (letters, digits, -_.:)"

// Valid reports whether s follows the rule.
func (s SKU) Valid() bool { return ID(s).Valid() }

// Check records an error for field on v unless s is valid.
func (s SKU) Check(v *validate.Validator, field string) { v.Check(s.Valid(), field, SKURule) }

// CouponCode names one of a customer's coupons: 1 to 32 characters of A-Z, 0-9, "-" and
// "_" (WELCOME10). Codes are printed on vouchers and typed by people, so they are short
// and upper case.
type CouponCode string

// CouponCodeRule says what a coupon code must be, for error messages.
const CouponCodeRule = "must be a coupon code (1 to 32 of A-Z, 0-9, -_)"

// Valid reports whether c follows the rule.
func (c CouponCode) Valid() bool {
	if len(c) == 0 || len(c) > 32 {
		return false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Check records an error for field on v unless c is valid.
func (c CouponCode) Check(v *validate.Validator, field string) {
	v.Check(c.Valid(), field, CouponCodeRule)
}

// Quantity is how many units of a product an order line holds: 1 to MaxQuantity.
type Quantity int

// MaxQuantity bounds a Quantity.
const MaxQuantity = 10000

// Valid reports whether q is between 1 and MaxQuantity.
func (q Quantity) Valid() bool { return q >= 1 && q <= MaxQuantity }

// Check records an error for field on v unless q is valid.
func (q Quantity) Check(v *validate.Validator, field string) {
	v.Check(q.Valid(), field, fmt.Sprintf("must be between 1 and %d", MaxQuantity))
}

// Country is an ISO 3166-1 alpha-2 country code: two uppercase letters.
type Country string

// Valid reports whether c is two uppercase letters.
func (c Country) Valid() bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

// Check records an error for field on v unless c is valid.
func (c Country) Check(v *validate.Validator, field string) {
	v.Check(c.Valid(), field, "must be two uppercase letters (ISO 3166-1 alpha-2)")
}

// Currency is the only currency ordersaga prices, charges and records money in.
const Currency = "USD"

// Cents is an amount of money in cents of Currency.
type Cents int64

// MaxCents bounds a price or an amount charged: ten billion dollars, far below int64
// overflow for any order of MaxItems lines of MaxQuantity units.
const MaxCents Cents = 1_000_000_000_000

// CheckPrice records an error for field on v unless c is a price: 0 (free) to MaxCents.
func (c Cents) CheckPrice(v *validate.Validator, field string) {
	v.Check(c >= 0 && c <= MaxCents, field, fmt.Sprintf("must be between 0 and %d", MaxCents))
}

// CheckAmount records an error for field on v unless c is an amount to charge: 1 to
// MaxCents.
func (c Cents) CheckAmount(v *validate.Validator, field string) {
	v.Check(c >= 1 && c <= MaxCents, field, fmt.Sprintf("must be between 1 and %d", MaxCents))
}

// Line is an order line as the services know it: a quantity of one product.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// MaxItems bounds the lines of an order.
const MaxItems = 100

// CheckLines records on v an error for every invalid line of an order: the lines (named
// field, "items" in requests) must number 1 to MaxItems, each with a valid SKU and
// quantity, no SKU twice. line returns the i-th line's SKU and quantity.
func CheckLines(v *validate.Validator, field string, n int, line func(i int) (SKU, Quantity)) {
	v.Check(n > 0, field, "must not be empty")
	v.Check(n <= MaxItems, field, fmt.Sprintf("must have at most %d entries", MaxItems))
	seen := make(map[SKU]bool, n)
	for i := range n {
		sku, qty := line(i)
		sku.Check(v, fmt.Sprintf("%s[%d].sku", field, i))
		qty.Check(v, fmt.Sprintf("%s[%d].quantity", field, i))
		v.Checkf(!seen[sku], "appears twice", "%s[%d].sku", field, i)
		seen[sku] = true
	}
}

// SameLines reports whether a and b hold the same quantities of the same SKUs, in any
// order. line returns a line's SKU and quantity.
func SameLines[A, B any](a []A, b []B, lineA func(A) (string, int), lineB func(B) (string, int)) bool {
	if len(a) != len(b) {
		return false
	}
	qty := make(map[string]int, len(a))
	for _, it := range a {
		sku, q := lineA(it)
		qty[sku] += q
	}
	for _, it := range b {
		sku, q := lineB(it)
		qty[sku] -= q
	}
	for _, n := range qty {
		if n != 0 {
			return false
		}
	}
	return true
}

// Text bounds a free-text field: its length in characters, and whether it may be blank.
// Every free-text field of the API and the services has one of the limits below.
type Text struct {
	Max      int
	Required bool
}

// The free-text fields.
var (
	// Name is a person's or a product's name, an address line, a city or a postal code.
	Name = Text{Max: 200, Required: true}
	// ProductName is a product's name, optional on an update.
	ProductName = Text{Max: 200}
	// PaymentMethod is a payment method's token ("pm_card_visa").
	PaymentMethod = Text{Max: 100, Required: true}
	// By names who decided on an order ("alice", "customer").
	By = Text{Max: 100}
	// Note says why, on a decision.
	Note = Text{Max: 1000}
	// Reason says why an order was cancelled or rejected.
	Reason = Text{Max: 1000}
	// Label is a step's or an error type's name.
	Label = Text{Max: 200}
)

// Check records an error for field on v unless s is valid UTF-8 of at most t.Max
// characters with no control characters, and not blank when t.Required.
func (t Text) Check(v *validate.Validator, field, s string) { v.Text(field, s, t.Required, t.Max) }

// Clean makes s pass t's check (but for a blank required field): invalid UTF-8 and
// control characters (newlines, tabs, NUL) become spaces, surrounding blanks go, and text
// over t.Max characters is cut to t.Max, its last character an ellipsis. Use it on text
// that is passed on rather than typed by the caller (a reason built from a note and an
// error message, say).
func (t Text) Clean(s string) string { return CleanText(s, t.Max) }

// CleanText is Text{Max: maxLen}.Clean(s).
func CleanText(s string, maxLen int) string {
	s = strings.ToValidUTF8(s, " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		s = string([]rune(s)[:maxLen-1]) + "…"
	}
	return s
}
