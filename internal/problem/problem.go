// Package problem defines the error body every ordersaga HTTP endpoint answers with:
// an RFC 9457 "problem details" object, served as application/problem+json.
//
// A Problem carries a stable machine-readable Code (for example "OutOfStock") next to the
// human-readable Title and Detail. Services map their sentinel errors to a Problem in one
// table (see package httpx), and typed clients map the Code back to the same sentinel
// error, so an error crosses the HTTP boundary without losing its identity.
package problem

import (
	"fmt"
	"strings"

	"github.com/ordersaga/ordersaga/internal/validate"
)

// ContentType is the media type of a problem response.
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object with two extension members: Code, the
// stable name of the problem, and Errors, the per-field validation failures.
type Problem struct {
	// Type is a URI reference naming the problem type; it is derived from Code.
	Type string `json:"type"`
	// Title is a short summary of the problem type.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence of the problem.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path that produced the problem.
	Instance string `json:"instance,omitempty"`
	// Code is the stable, machine-readable name of the problem, e.g. "OutOfStock".
	Code string `json:"code"`
	// Errors lists the invalid fields of a request, when the problem is a validation one.
	Errors []validate.FieldError `json:"errors,omitempty"`
}

// New returns a Problem with the given status, code, title and detail; Type is derived
// from the code.
func New(status int, code, title, detail string) Problem {
	return Problem{Type: TypeURI(code), Title: title, Status: status, Detail: detail, Code: code}
}

// TypeURI returns the problem type URI reference for a code: "/problems/out-of-stock" for
// "OutOfStock".
func TypeURI(code string) string {
	var b strings.Builder
	b.WriteString("/problems/")
	for i, r := range code {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Error makes a Problem usable as an error, so a client can return the problem it received.
func (p Problem) Error() string {
	if p.Detail == "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Title)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail)
}
