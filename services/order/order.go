// Package order is the order service: the system of record for orders. The saga's first
// step creates an order PENDING, the workflow mirrors its intermediate statuses here, the
// last step confirms it COMPLETED (the point of no return), and the compensation cancels
// it (CANCELLED) or rejects it (REJECTED) with a reason.
//
// Every write is idempotent, keyed by the order ID: creating again with the same body
// returns the first order, confirming twice completes the order once, cancelling twice
// keeps the first reason, and a status update carries a version so that a stale or
// repeated one changes nothing. Once an order is terminal (COMPLETED, CANCELLED or
// REJECTED) it never moves again: cancelling a COMPLETED order is refused with
// ErrCompleted, confirming a cancelled one with ErrCompensated.
//
// Cancelling an order that was never created succeeds and leaves a tombstone (an order
// row with Tombstone set, the requested status and no items), so that a create arriving
// late for that order is refused with ErrCompensated instead of leaving a PENDING order
// that no workflow will ever finish.
//
// Each change is also a domain event (events.go), which the store writes into the
// service's transactional outbox (internal/outbox) in the same transaction as the change.
//
// The package holds the domain types and errors (this file), the state machine as pure
// decisions (decisions.go), the GORM store that locks, decides and writes (store.go), its
// events (events.go), the Gin handlers (http.go) and a typed HTTP client for the
// activities (client.go).
package order

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// Currency is the only currency orders are accepted in for now.
const Currency = domain.Currency

// Operations are the write operations that fault injection can target.
var Operations = []string{"create", "confirm", "cancel"}

// Errors returned by the store and, through the client, by the HTTP API.
var (
	// ErrNotFound means the order does not exist.
	ErrNotFound = errors.New("order not found")
	// ErrConflict means the order ID already exists with a different body.
	ErrConflict = errors.New("order already exists with a different body")
	// ErrCompensated means the order was already cancelled or rejected (or a tombstone
	// was left for it): it can no longer be created or confirmed.
	ErrCompensated = errors.New("order already cancelled or rejected")
	// ErrCompleted means the order is COMPLETED, past the point of no return: it can no
	// longer be cancelled or rejected.
	ErrCompleted = errors.New("order already completed")
)

// Codes maps the errors above to HTTP answers, and back in the client.
var Codes = httpx.Codes{
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: "NotFound", Title: "Not found"},
	{Err: ErrConflict, Status: http.StatusConflict, Code: "IdempotencyConflict", Title: "Idempotency conflict"},
	{Err: ErrCompensated, Status: http.StatusConflict, Code: "AlreadyCompensated", Title: "Already compensated"},
	{Err: ErrCompleted, Status: http.StatusConflict, Code: "OrderCompleted", Title: "Order completed"},
}

// Status is the state of an order.
type Status string

// Order statuses. PENDING is set by Create, COMPLETED by Confirm, CANCELLED and REJECTED
// by Cancel; the intermediate ones are mirrored from the workflow by SetStatus.
const (
	// Pending: the order was created; nothing else has happened yet.
	Pending Status = "PENDING"
	// Reserved: the inventory is reserved.
	Reserved Status = "RESERVED"
	// AwaitingApproval: the order waits for an operator to approve or reject it.
	AwaitingApproval Status = "AWAITING_APPROVAL"
	// Paid: the customer was charged.
	Paid Status = "PAID"
	// ShippingScheduled: the shipment is scheduled.
	ShippingScheduled Status = "SHIPPING_SCHEDULED"
	// Compensating: the saga is undoing its steps.
	Compensating Status = "COMPENSATING"
	// NeedsAttention: a compensation keeps failing; an operator must step in.
	NeedsAttention Status = "NEEDS_ATTENTION"
	// Completed: the order is confirmed, past the point of no return.
	Completed Status = "COMPLETED"
	// Rejected: a business rule refused the order and the saga compensated it.
	Rejected Status = "REJECTED"
	// Cancelled: the customer or an operator cancelled the order and the saga compensated it.
	Cancelled Status = "CANCELLED"
)

// Terminal reports whether s is final: COMPLETED, REJECTED or CANCELLED.
func (s Status) Terminal() bool {
	return s == Completed || s == Rejected || s == Cancelled
}

// Intermediate reports whether s is a status the workflow mirrors with SetStatus:
// RESERVED, AWAITING_APPROVAL, PAID, SHIPPING_SCHEDULED, COMPENSATING or NEEDS_ATTENTION.
func (s Status) Intermediate() bool {
	switch s {
	case Reserved, AwaitingApproval, Paid, ShippingScheduled, Compensating, NeedsAttention:
		return true
	}
	return false
}

// Valid reports whether s is one of the order statuses.
func (s Status) Valid() bool {
	return s == Pending || s.Intermediate() || s.Terminal()
}

// compensated reports whether s is the outcome of a compensation: CANCELLED or REJECTED.
func (s Status) compensated() bool { return s == Cancelled || s == Rejected }

// Item is one line of an order: a quantity of a product at a unit price.
type Item struct {
	SKU            string `json:"sku"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unitPriceCents"`
}

// Address is where an order ships to. Country is an ISO 3166-1 alpha-2 code ("US").
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Order is an order with its current status.
type Order struct {
	OrderID         string  `json:"orderId"`
	CustomerID      string  `json:"customerId"`
	Items           []Item  `json:"items"`
	TotalCents      int64   `json:"totalCents"`
	Currency        string  `json:"currency"`
	PaymentMethod   string  `json:"paymentMethod"`
	ShippingAddress Address `json:"shippingAddress"`
	Status          Status  `json:"status"`
	// Reason says why the order was cancelled or rejected.
	Reason string `json:"reason,omitempty"`
	// FailedStep is the saga step that failed, for a rejected order.
	FailedStep string `json:"failedStep,omitempty"`
	// ErrorType is the business error type of the failure (e.g. "OutOfStock").
	ErrorType string `json:"errorType,omitempty"`
	// Tombstone is set when the order was cancelled before it was ever created: it has
	// no customer and no items, and it refuses a late create.
	Tombstone bool `json:"tombstone,omitempty"`
	// Version is the last status version applied by SetStatus (0 before any).
	Version int64 `json:"version"`
	// State is the saga's own view of the order (its steps, attempts, failure and
	// events), as the workflow last published it with SetStatus: a JSON object this
	// service keeps for readers without interpreting it, or absent before the first.
	State     json.RawMessage `json:"state,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// CreateRequest is the body of a create: the order as priced by the caller.
// TotalCents must equal the sum of quantity × unit price.
type CreateRequest struct {
	OrderID         string  `json:"orderId"`
	CustomerID      string  `json:"customerId"`
	Items           []Item  `json:"items"`
	TotalCents      int64   `json:"totalCents"`
	Currency        string  `json:"currency"`
	PaymentMethod   string  `json:"paymentMethod"`
	ShippingAddress Address `json:"shippingAddress"`
}

// CancelRequest is the body of a cancel: the terminal status (CANCELLED or REJECTED) and
// why.
type CancelRequest struct {
	Status     Status `json:"status"`
	Reason     string `json:"reason,omitempty"`
	FailedStep string `json:"failedStep,omitempty"`
	ErrorType  string `json:"errorType,omitempty"`
}

// StatusUpdate is a status mirrored from the workflow, with the saga's view of the order.
// Version orders the updates of one order: an update applies only when its version is
// above the order's. Status is an intermediate status, or the final one the saga ended
// with; Reason, FailedStep and ErrorType describe a final CANCELLED or REJECTED.
type StatusUpdate struct {
	Status     Status          `json:"status"`
	Version    int64           `json:"version"`
	Reason     string          `json:"reason,omitempty"`
	FailedStep string          `json:"failedStep,omitempty"`
	ErrorType  string          `json:"errorType,omitempty"`
	State      json.RawMessage `json:"state,omitempty"`
}

// ConfirmRequest is the optional body of a confirm: the saga's final view of the order,
// kept with the order as a StatusUpdate of that version would keep it, in the same
// transaction that completes it. Empty, the confirm completes the order alone.
type ConfirmRequest struct {
	Version int64           `json:"version,omitempty"`
	State   json.RawMessage `json:"state,omitempty"`
}

// Validate checks a confirm's body as the service does: a view has a version of at
// least 1 and a state that is a JSON object of at most 256 KiB.
func (r ConfirmRequest) Validate() error {
	var v validate.Validator
	validateConfirm(&v, r)
	return v.Err()
}

// ListQuery selects a page of orders: the query parameters customerId, status, limit and
// cursor. Empty fields do not filter; Limit 0 means DefaultLimit.
type ListQuery struct {
	CustomerID string
	Status     Status
	Limit      int
	// Cursor is the NextCursor of the previous page; empty for the first page.
	Cursor string
}

// ParseLimit reads the limit query parameter of a list: empty for the default (0), or an
// integer from 1 to MaxLimit. Anything else (limit=0 included) is a *validate.Error.
func ParseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, validate.Invalid("limit", fmt.Sprintf("must be an integer between 1 and %d", MaxLimit))
	}
	return n, nil
}

// Page is one page of orders, newest first. NextCursor is empty on the last page.
type Page struct {
	Orders     []Order `json:"orders"`
	NextCursor string  `json:"nextCursor,omitempty"`
}

// Bounds of a request.
const (
	// DefaultLimit is the page size when ListQuery.Limit is 0.
	DefaultLimit = 20
	// MaxLimit is the largest page size.
	MaxLimit = 100

	// MaxStateBytes bounds the saga's view of an order (StatusUpdate.State and
	// ConfirmRequest.State).
	MaxStateBytes = 256 << 10
)

// validateCreate checks every field of a create request.
func validateCreate(v *validate.Validator, r CreateRequest) {
	domain.ID(r.OrderID).Check(v, "orderId")
	domain.ID(r.CustomerID).Check(v, "customerId")
	domain.CheckLines(v, "items", len(r.Items), func(i int) (domain.SKU, domain.Quantity) {
		return domain.SKU(r.Items[i].SKU), domain.Quantity(r.Items[i].Quantity)
	})
	var total int64
	bounded := len(r.Items) <= domain.MaxItems
	for i, it := range r.Items {
		domain.Cents(it.UnitPriceCents).CheckPrice(v, fmt.Sprintf("items[%d].unitPriceCents", i))
		bounded = bounded && domain.Quantity(it.Quantity).Valid() && it.UnitPriceCents >= 0 && domain.Cents(it.UnitPriceCents) <= domain.MaxCents
		total += int64(it.Quantity) * it.UnitPriceCents
	}
	// The total is only checked against bounded items, whose sum cannot overflow.
	if bounded {
		v.Check(r.TotalCents == total, "totalCents", "must equal the sum of quantity × unitPriceCents")
	}
	v.Check(r.Currency == Currency, "currency", "must be "+Currency)
	domain.PaymentMethod.Check(v, "paymentMethod", r.PaymentMethod)
	a := r.ShippingAddress
	domain.Name.Check(v, "shippingAddress.name", a.Name)
	domain.Name.Check(v, "shippingAddress.line1", a.Line1)
	domain.Name.Check(v, "shippingAddress.city", a.City)
	domain.Name.Check(v, "shippingAddress.postalCode", a.PostalCode)
	domain.Country(a.Country).Check(v, "shippingAddress.country")
}

// Validate returns a *validate.Error naming the invalid fields of r, or nil.
func (r CancelRequest) Validate() error {
	var v validate.Validator
	validateCancel(&v, r)
	return v.Err()
}

// Validate returns a *validate.Error naming the invalid fields of u, or nil.
func (u StatusUpdate) Validate() error {
	var v validate.Validator
	validateStatusUpdate(&v, u)
	return v.Err()
}

// validateCancel checks a cancel request.
func validateCancel(v *validate.Validator, r CancelRequest) {
	v.Check(r.Status.compensated(), "status", "must be CANCELLED or REJECTED")
	domain.Reason.Check(v, "reason", r.Reason)
	domain.Label.Check(v, "failedStep", r.FailedStep)
	domain.Label.Check(v, "errorType", r.ErrorType)
}

// validateStatusUpdate checks a status update.
func validateStatusUpdate(v *validate.Validator, u StatusUpdate) {
	v.Check(u.Status != Pending && u.Status.Valid(), "status",
		"must be one of RESERVED, AWAITING_APPROVAL, PAID, SHIPPING_SCHEDULED, COMPENSATING, NEEDS_ATTENTION, COMPLETED, REJECTED, CANCELLED")
	v.Check(u.Version >= 1, "version", "must be at least 1")
	domain.Reason.Check(v, "reason", u.Reason)
	domain.Label.Check(v, "failedStep", u.FailedStep)
	domain.Label.Check(v, "errorType", u.ErrorType)
	v.Check(len(u.State) == 0 || validState(u.State), "state", stateRule)
}

func validateConfirm(v *validate.Validator, r ConfirmRequest) {
	if r.Version == 0 && len(r.State) == 0 {
		return // no view: the confirm alone
	}
	v.Check(r.Version >= 1, "version", "must be at least 1")
	v.Check(validState(r.State), "state", stateRule)
}

// stateRule is what validState asks of the saga's view of an order.
const stateRule = "must be a JSON object of at most 256 KiB"

// validState reports whether state is a view of an order the service keeps: a JSON
// object of at most MaxStateBytes.
func validState(state json.RawMessage) bool {
	return len(state) <= MaxStateBytes && isJSONObject(state)
}

func isJSONObject(b json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}
