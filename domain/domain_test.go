package domain

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ordersaga/ordersaga/internal/validate"
)

func TestCleanText(t *testing.T) {
	cases := []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain text is kept", "changed my mind", 100, "changed my mind"},
		{"newlines and tabs become spaces", "line one\nline two\tend", 100, "line one line two end"},
		{"a NUL byte becomes a space", "a\x00b", 100, "a b"},
		{"invalid UTF-8 becomes a space", "a\xffb", 100, "a b"},
		{"surrounding blanks go", "  \n note \r\n", 100, "note"},
		{"long text is cut with an ellipsis", "abcdefghij", 5, "abcd…"},
		{"the limit counts characters, not bytes", "ééééé", 5, "ééééé"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Text{Max: tc.max}.Clean(tc.in)
			if got != tc.want {
				t.Errorf("Clean(%q) to %d = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			var v validate.Validator
			Text{Max: tc.max}.Check(&v, "f", got)
			if err := v.Err(); err != nil {
				t.Errorf("the cleaned text is still invalid: %v", err)
			}
		})
	}
	if n := utf8.RuneCountInString(Note.Clean(strings.Repeat("x\n", 2000))); n != Note.Max {
		t.Errorf("cleaned note length = %d, want %d", n, Note.Max)
	}
}

func TestValueTypes(t *testing.T) {
	cases := []struct {
		name  string
		check func(v *validate.Validator)
		ok    bool
	}{
		{"an ID of letters, digits and -_.:", func(v *validate.Validator) { ID("ord-1_a.b:c").Check(v, "id") }, true},
		{"an empty ID", func(v *validate.Validator) { ID("").Check(v, "id") }, false},
		{"an ID starting with a dash", func(v *validate.Validator) { ID("-x").Check(v, "id") }, false},
		{"an ID of 101 characters", func(v *validate.Validator) { ID(strings.Repeat("a", 101)).Check(v, "id") }, false},
		{"an ID with a space", func(v *validate.Validator) { ID("a b").Check(v, "id") }, false},
		{"an ID with a NUL byte", func(v *validate.Validator) { ID("a\x00").Check(v, "id") }, false},
		{"a SKU", func(v *validate.Validator) { SKU("SKU-BOOK").Check(v, "sku") }, true},
		{"a SKU with a slash", func(v *validate.Validator) { SKU("SKU/1").Check(v, "sku") }, false},
		{"a coupon code", func(v *validate.Validator) { CouponCode("WELCOME_10-A").Check(v, "c") }, true},
		{"a lower-case coupon code", func(v *validate.Validator) { CouponCode("welcome10").Check(v, "c") }, false},
		{"an empty coupon code", func(v *validate.Validator) { CouponCode("").Check(v, "c") }, false},
		{"a coupon code of 33 characters", func(v *validate.Validator) { CouponCode(strings.Repeat("A", 33)).Check(v, "c") }, false},
		{"quantity 1", func(v *validate.Validator) { Quantity(1).Check(v, "q") }, true},
		{"quantity 10000", func(v *validate.Validator) { Quantity(MaxQuantity).Check(v, "q") }, true},
		{"quantity 0", func(v *validate.Validator) { Quantity(0).Check(v, "q") }, false},
		{"quantity 10001", func(v *validate.Validator) { Quantity(MaxQuantity+1).Check(v, "q") }, false},
		{"country US", func(v *validate.Validator) { Country("US").Check(v, "c") }, true},
		{"country us", func(v *validate.Validator) { Country("us").Check(v, "c") }, false},
		{"country USA", func(v *validate.Validator) { Country("USA").Check(v, "c") }, false},
		{"a free price", func(v *validate.Validator) { Cents(0).CheckPrice(v, "p") }, true},
		{"a negative price", func(v *validate.Validator) { Cents(-1).CheckPrice(v, "p") }, false},
		{"a price over the bound", func(v *validate.Validator) { (MaxCents + 1).CheckPrice(v, "p") }, false},
		{"an amount of 1 cent", func(v *validate.Validator) { Cents(1).CheckAmount(v, "a") }, true},
		{"an amount of 0", func(v *validate.Validator) { Cents(0).CheckAmount(v, "a") }, false},
		{"a required name", func(v *validate.Validator) { Name.Check(v, "n", "Ada") }, true},
		{"a blank required name", func(v *validate.Validator) { Name.Check(v, "n", "  ") }, false},
		{"an optional note left empty", func(v *validate.Validator) { Note.Check(v, "n", "") }, true},
		{"a note with a newline", func(v *validate.Validator) { Note.Check(v, "n", "a\nb") }, false},
		{"a note over its limit", func(v *validate.Validator) { Note.Check(v, "n", strings.Repeat("é", Note.Max+1)) }, false},
		{"invalid UTF-8", func(v *validate.Validator) { Note.Check(v, "n", "\xff") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v validate.Validator
			tc.check(&v)
			if err := v.Err(); (err == nil) != tc.ok || (err != nil && !errors.Is(err, validate.ErrInvalid)) {
				t.Errorf("err = %v, want valid %v", err, tc.ok)
			}
		})
	}
}

func TestCheckLines(t *testing.T) {
	lines := func(ls ...Line) func(int) (SKU, Quantity) {
		return func(i int) (SKU, Quantity) { return SKU(ls[i].SKU), Quantity(ls[i].Quantity) }
	}
	cases := []struct {
		name   string
		lines  []Line
		fields []string
	}{
		{"two good lines", []Line{{"A", 1}, {"B", 2}}, nil},
		{"no lines", nil, []string{"items"}},
		{"a SKU twice", []Line{{"A", 1}, {"A", 2}}, []string{"items[1].sku"}},
		{"a bad SKU and quantity", []Line{{"", 0}}, []string{"items[0].sku", "items[0].quantity"}},
		{"101 lines", make101(), []string{"items"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v validate.Validator
			CheckLines(&v, "items", len(tc.lines), lines(tc.lines...))
			var got []string
			var ve *validate.Error
			if errors.As(v.Err(), &ve) {
				for _, f := range ve.Fields {
					got = append(got, f.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("invalid fields = %v, want %v", got, tc.fields)
			}
		})
	}
	sl := func(l Line) (string, int) { return l.SKU, l.Quantity }
	if !SameLines([]Line{{"A", 1}, {"B", 2}}, []Line{{"B", 2}, {"A", 1}}, sl, sl) {
		t.Error("SameLines: the same lines in another order differ")
	}
	if SameLines([]Line{{"A", 1}}, []Line{{"A", 2}}, sl, sl) || SameLines([]Line{{"A", 1}}, []Line{{"A", 1}, {"B", 1}}, sl, sl) {
		t.Error("SameLines: different lines are the same")
	}
}

func make101() []Line {
	ls := make([]Line, 101)
	for i := range ls {
		ls[i] = Line{SKU: "S" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Quantity: 1}
	}
	return ls
}
