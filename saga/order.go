package saga

import (
	"encoding/json"
	"fmt"
	"time"
)

// Order is an order as its saga runs it: priced when it was placed, with where it ships.
type Order struct {
	OrderID         string  `json:"orderId"`
	CustomerID      string  `json:"customerId"`
	Items           []Item  `json:"items"`
	TotalCents      int64   `json:"totalCents"`
	Currency        string  `json:"currency"`
	PaymentMethod   string  `json:"paymentMethod"`
	ShippingAddress Address `json:"shippingAddress"`
}

// Item is an order line, priced when the order was placed.
type Item struct {
	SKU            string `json:"sku"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unitPriceCents"`
}

// Address is where an order ships.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Result is what a step or a compensation reports to the workflow.
type Result struct {
	// Attempt is the attempt that succeeded (1 for the first).
	Attempt int32 `json:"attempt"`
	// Detail says what the service did, for people: "charged $30.00", "tracking 1Z...".
	Detail string `json:"detail"`
}

// CancelOrderInput is the input of CancelOrder.
type CancelOrderInput struct {
	OrderID string `json:"orderId"`
	// Status is "CANCELLED" (by the customer or an operator) or "REJECTED" (a step failed).
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	FailedStep string `json:"failedStep,omitempty"`
	ErrorType  string `json:"errorType,omitempty"`
}

// StatusInput is the input of SyncOrderStatus: a status of the saga and its view of the
// order. Reason, FailedStep and ErrorType describe a final CANCELLED or REJECTED.
type StatusInput struct {
	OrderID    string          `json:"orderId"`
	Status     string          `json:"status"`
	Version    int64           `json:"version"`
	Reason     string          `json:"reason,omitempty"`
	FailedStep string          `json:"failedStep,omitempty"`
	ErrorType  string          `json:"errorType,omitempty"`
	State      json.RawMessage `json:"state,omitempty"`
}

// OrderInput starts an order's saga.
type OrderInput struct {
	Order
	// Policy is fixed when the order is placed; zero fields take the defaults.
	Policy Policy `json:"policy"`
	// TraceID is the OpenTelemetry trace of the request that placed the order, carried
	// into the order's state so that the order view leads to the trace; empty untraced.
	TraceID string `json:"traceId,omitempty"`
}

// Policy holds the per-order settings of the saga.
type Policy struct {
	// ApprovalThresholdCents: orders with a total at or above it wait for approval.
	ApprovalThresholdCents int64 `json:"approvalThresholdCents,omitempty"`
	// ApprovalTimeout: an order not decided within it is rejected (ApprovalTimedOut).
	ApprovalTimeout Duration `json:"approvalTimeout,omitempty"`
	// CompensationAttempts bounds the retries of each compensation before the order needs
	// an operator's attention.
	CompensationAttempts int32 `json:"compensationAttempts,omitempty"`
	// StatusMirror says which statuses leave the workflow: MirrorMilestones, or every
	// status (MirrorEvery, and the empty value of orders placed before the setting
	// existed, whose recorded inputs must replay as they ran).
	StatusMirror string `json:"statusMirror,omitempty"`
}

// StatusMirror values.
const (
	// MirrorEvery writes every status to the OrderStatus search attribute and to the
	// order service's read model.
	MirrorEvery = "every"
	// MirrorMilestones writes only the statuses someone acts on or waits for: PENDING,
	// AWAITING_APPROVAL, COMPENSATING, NEEDS_ATTENTION and the final ones. The transient
	// RESERVED, PAID and SHIPPING_SCHEDULED, which a running order passes in milliseconds,
	// stay in the workflow (its query, the live view, the Web UI's current details):
	// each would cost an order a search-attribute update and a call to the order service.
	MirrorMilestones = "milestones"
)

// Transient reports whether s is a status a running order passes on its way: RESERVED,
// PAID or SHIPPING_SCHEDULED.
func (s OrderStatus) Transient() bool {
	return s == StatusReserved || s == StatusPaid || s == StatusShippingScheduled
}

// Policy defaults.
const (
	DefaultApprovalThresholdCents = 100000
	DefaultApprovalTimeout        = 24 * time.Hour
	DefaultCompensationAttempts   = 10
)

// WithDefaults returns p with its zero fields set to the defaults.
func (p Policy) WithDefaults() Policy {
	if p.ApprovalThresholdCents <= 0 {
		p.ApprovalThresholdCents = DefaultApprovalThresholdCents
	}
	if p.ApprovalTimeout <= 0 {
		p.ApprovalTimeout = Duration(DefaultApprovalTimeout)
	}
	if p.CompensationAttempts <= 0 {
		p.CompensationAttempts = DefaultCompensationAttempts
	}
	return p
}

// Duration is a time.Duration that reads and writes JSON as "24h0m0s", so that inputs
// stay readable in the Web UI and can be typed on the CLI. It also accepts nanoseconds.
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string ("90s") or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want a string such as \"24h\" or nanoseconds: %w", err)
	}
	*d = Duration(n)
	return nil
}
