package money

import "testing"

func TestFormat(t *testing.T) {
	cases := []struct {
		cents    int64
		currency string
		want     string
	}{
		{0, "USD", "$0.00"},
		{5, "USD", "$0.05"},
		{3000, "USD", "$30.00"},
		{120000, "USD", "$1,200.00"},
		{100000000, "USD", "$1,000,000.00"},
		{-1550, "USD", "-$15.50"},
		{1250, "EUR", "12.50 EUR"},
	}
	for _, c := range cases {
		if got := Format(c.cents, c.currency); got != c.want {
			t.Errorf("Format(%d, %q) = %q, want %q", c.cents, c.currency, got, c.want)
		}
	}
}
