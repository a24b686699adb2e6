package httpx

import (
	"strings"
	"testing"
	"unicode/utf8"
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
			got := CleanText(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("CleanText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			var v Validator
			v.Text("f", got, false, tc.max)
			if err := v.Err(); err != nil {
				t.Errorf("the cleaned text is still invalid: %v", err)
			}
		})
	}
	long := CleanText(strings.Repeat("x\n", 2000), 1000)
	if n := utf8.RuneCountInString(long); n != 1000 {
		t.Errorf("cleaned length = %d, want 1000", n)
	}
}
