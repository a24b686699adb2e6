// Package validate collects the invalid fields of a request into one error. It knows no
// rules of the domain (those are the value types of package domain) and nothing of HTTP
// (package httpx renders its errors as 422 problems).
package validate

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid means a request is well-formed but a field is invalid; the error is an
// *Error that lists the fields.
var ErrInvalid = errors.New("validation failed")

// FieldError is one invalid field of a request body or query.
type FieldError struct {
	// Field is the JSON path of the field, e.g. "items[0].quantity".
	Field string `json:"field"`
	// Message says what is wrong with it.
	Message string `json:"message"`
}

// Error lists the invalid fields of a request. It wraps ErrInvalid.
type Error struct {
	Fields []FieldError
}

// Error lists the fields and what is wrong with each.
func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// Invalid returns an *Error for one field.
func Invalid(field, msg string) error {
	return &Error{Fields: []FieldError{{Field: field, Message: msg}}}
}

// Validator collects field errors. The zero value is ready to use.
type Validator struct {
	fields []FieldError
}

// Check records msg for field when ok is false.
func (v *Validator) Check(ok bool, field, msg string) {
	if !ok {
		v.fields = append(v.fields, FieldError{Field: field, Message: msg})
	}
}

// Checkf is Check with a formatted field name.
func (v *Validator) Checkf(ok bool, msg, fieldFormat string, args ...any) {
	if !ok {
		v.Check(false, fmt.Sprintf(fieldFormat, args...), msg)
	}
}

// Text checks a free-text field: valid UTF-8, at most maxLen characters, no control
// characters (PostgreSQL cannot store NUL), and not blank when required.
func (v *Validator) Text(field, s string, required bool, maxLen int) {
	switch {
	case required && strings.TrimSpace(s) == "":
		v.Check(false, field, "is required")
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxLen:
		v.Check(false, field, fmt.Sprintf("must be at most %d characters", maxLen))
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.Check(false, field, "must not contain control characters")
	}
}

// Err returns an *Error when a check failed, otherwise nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Fields: v.fields}
}
