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
	// CouponCode is the customer's coupon to redeem, if any. TotalCents is the subtotal
	// before its discount, which only the payment service knows.
	CouponCode string `json:"couponCode,omitempty"`
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

// The forward steps after CreateOrder each get only the part of the order their service
// needs: the history keeps one copy of the whole order (the workflow's input) and not five.
// Their fields carry Order's JSON names, so an activity task scheduled with the whole
// order by an earlier build decodes into them, and one scheduled by this build decodes
// into an earlier build's Order with everything that build's activity reads.

// ReserveInput is the input of ReserveInventory: what to reserve.
type ReserveInput struct {
	OrderID string `json:"orderId"`
	Items   []Line `json:"items"`
}

// Line is an order line without its price: a SKU and how many.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// RedeemInput is the input of RedeemCoupon: whose coupon, on what subtotal.
type RedeemInput struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId"`
	CouponCode string `json:"couponCode"`
	TotalCents int64  `json:"totalCents"` // the subtotal the discount applies to
	Currency   string `json:"currency"`
}

// ChargeInput is the input of ChargePayment: who pays how much, and with what.
type ChargeInput struct {
	OrderID       string `json:"orderId"`
	CustomerID    string `json:"customerId"`
	TotalCents    int64  `json:"totalCents"`
	Currency      string `json:"currency"`
	PaymentMethod string `json:"paymentMethod"`
}

// ShipInput is the input of ScheduleShipping: what goes where.
type ShipInput struct {
	OrderID         string  `json:"orderId"`
	Items           []Line  `json:"items"`
	ShippingAddress Address `json:"shippingAddress"`
}

// Lines returns the order's lines without prices.
func (o Order) Lines() []Line {
	lines := make([]Line, len(o.Items))
	for i, it := range o.Items {
		lines[i] = Line{SKU: it.SKU, Quantity: it.Quantity}
	}
	return lines
}

// Reserve returns ReserveInventory's input for the order.
func (o Order) Reserve() ReserveInput { return ReserveInput{OrderID: o.OrderID, Items: o.Lines()} }

// Redeem returns RedeemCoupon's input for the order.
func (o Order) Redeem() RedeemInput {
	return RedeemInput{OrderID: o.OrderID, CustomerID: o.CustomerID, CouponCode: o.CouponCode,
		TotalCents: o.TotalCents, Currency: o.Currency}
}

// Charge returns ChargePayment's input for the order.
func (o Order) Charge() ChargeInput {
	return ChargeInput{OrderID: o.OrderID, CustomerID: o.CustomerID, TotalCents: o.TotalCents,
		Currency: o.Currency, PaymentMethod: o.PaymentMethod}
}

// Ship returns ScheduleShipping's input for the order.
func (o Order) Ship() ShipInput {
	return ShipInput{OrderID: o.OrderID, Items: o.Lines(), ShippingAddress: o.ShippingAddress}
}

// Result is what a step or a compensation reports to the workflow.
type Result struct {
	// Attempt is the attempt that succeeded (1 for the first).
	Attempt int32 `json:"attempt"`
	// Detail says what the service did, for people: "charged $30.00", "tracking 1Z...".
	Detail string `json:"detail"`
	// AmountCents is an amount the step settled that the saga goes on with: the discount
	// of a redeemed coupon.
	AmountCents int64 `json:"amountCents,omitempty"`
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

// StatusInput is the input of SyncOrderStatus and ConfirmOrderWithState: a status of
// the saga and its view of the order. Reason, FailedStep and ErrorType describe a final
// CANCELLED or REJECTED.
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
	// Revision is the saga revision the order was placed under (Revision when placed by
	// this build, 0 when placed before revisions existed). The workflow takes the changes
	// a revision includes without recording a version marker for them
	// (workflows/versions.go).
	Revision int `json:"revision,omitempty"`
}

// Revision is the saga revision this build places orders under. A worker runs an order
// of revision r with every change that r includes, so a build may place orders under a
// revision only once every worker runs those changes: deploy the workers before the
// processes that place orders (the API), and roll back in the other order.
const Revision = 3

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
