// Package httpx holds the HTTP plumbing shared by the ordersaga services and the public
// API: a Gin engine with problem+json errors, strict JSON binding, validation errors, one
// table per service that maps sentinel errors to HTTP answers (and back, in clients), a
// JSON client that classifies failures as transient or final, and graceful serving.
package httpx

import (
	"errors"
	"net/http"

	"github.com/ordersaga/ordersaga/internal/problem"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// Errors shared by every service. Handlers and clients see them like any other sentinel.
var (
	// ErrMalformed means the request body is not valid JSON for the endpoint.
	ErrMalformed = errors.New("malformed request")
	// ErrUnsupportedMediaType means the request body is not application/json.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrTooLarge means the request body is over the size limit.
	ErrTooLarge = errors.New("request body too large")
	// ErrRouteNotFound means no route matches the request path.
	ErrRouteNotFound = errors.New("no such route")
	// ErrMethodNotAllowed means the path exists but not for this method.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrUnauthorized means the request carries no credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden means the request's credentials do not allow the operation.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable means the service could not answer now: a 5xx answer, a refused
	// connection or a timeout. Retrying may succeed; the request may or may not have
	// taken effect.
	ErrUnavailable = errors.New("service unavailable")
	// ErrRejected is a 4xx answer whose code the client does not know. Retrying the same
	// request will not help.
	ErrRejected = errors.New("request rejected")
)

// Code ties a sentinel error to the HTTP status and the stable problem code it is
// answered with.
type Code struct {
	Err    error
	Status int
	Code   string
	Title  string
}

// Codes is a service's error table. Handlers use it to answer an error; clients use it to
// turn a problem back into the same sentinel error. The first entry matching wins.
type Codes []Code

// common are the codes every table ends with.
var common = Codes{
	{ErrMalformed, http.StatusBadRequest, "MalformedRequest", "Malformed request"},
	{ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Unsupported media type"},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, "RequestTooLarge", "Request body too large"},
	{validate.ErrInvalid, http.StatusUnprocessableEntity, "ValidationFailed", "Validation failed"},
	{ErrRouteNotFound, http.StatusNotFound, "RouteNotFound", "No such route"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "MethodNotAllowed", "Method not allowed"},
	{ErrUnauthorized, http.StatusUnauthorized, "Unauthorized", "Unauthorized"},
	{ErrForbidden, http.StatusForbidden, "Forbidden", "Forbidden"},
	{ErrUnavailable, http.StatusServiceUnavailable, "ServiceUnavailable", "Service unavailable"},
}

// internalProblem answers errors no table knows. The detail stays generic: internal
// errors are logged, never shown to clients.
func internalProblem() problem.Problem {
	return problem.New(http.StatusInternalServerError, "Internal", "Internal server error",
		"the server failed to handle the request; it has been logged")
}

func (cs Codes) all() Codes { return append(cs[:len(cs):len(cs)], common...) }

// Problem maps err to the problem it is answered with. The second result is false when no
// entry matches; the problem is then a generic 500.
//
// A 4xx problem received from another service (a *ResponseError) is passed on as it is,
// since every service speaks the same problem vocabulary; a 5xx one becomes a 503.
func (cs Codes) Problem(err error) (problem.Problem, bool) {
	var (
		ve *validate.Error
		re *ResponseError
	)
	if errors.As(err, &ve) {
		p := problem.New(http.StatusUnprocessableEntity, "ValidationFailed", "Validation failed", ve.Error())
		p.Errors = ve.Fields
		return p, true
	}
	if errors.As(err, &re) && re.Problem.Status >= 400 && re.Problem.Status < 500 && re.Problem.Code != "" {
		p := re.Problem
		p.Instance = ""
		return p, true
	}
	for _, c := range cs.all() {
		if errors.Is(err, c.Err) {
			return problem.New(c.Status, c.Code, c.Title, err.Error()), true
		}
	}
	return internalProblem(), false
}

// Err turns a problem received from a service back into an error that wraps the matching
// sentinel (and ErrUnavailable for 5xx and 429 answers, ErrRejected for unknown 4xx ones).
func (cs Codes) Err(p problem.Problem) error {
	e := &ResponseError{Problem: p}
	for _, c := range cs.all() {
		if c.Code == p.Code {
			e.sentinel = c.Err
			break
		}
	}
	switch {
	case p.Status >= 500 || p.Status == http.StatusTooManyRequests:
		e.class = ErrUnavailable
	case e.sentinel == nil:
		e.class = ErrRejected
	}
	return e
}

// ResponseError is an error answer received from a service.
type ResponseError struct {
	Problem  problem.Problem
	sentinel error
	class    error
}

// Error returns the problem's detail.
func (e *ResponseError) Error() string { return e.Problem.Error() }

// Unwrap exposes the sentinel error of the problem's code and the transient or final class.
func (e *ResponseError) Unwrap() []error {
	var errs []error
	if e.sentinel != nil {
		errs = append(errs, e.sentinel)
	}
	if e.class != nil {
		errs = append(errs, e.class)
	}
	return errs
}
