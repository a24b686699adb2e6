package saga

import (
	"time"
)

// OrderStatus is where an order stands; the values match the order service's.
type OrderStatus string

// Order statuses. COMPLETED, REJECTED and CANCELLED are final.
const (
	StatusPending           OrderStatus = "PENDING"
	StatusReserved          OrderStatus = "RESERVED"
	StatusAwaitingApproval  OrderStatus = "AWAITING_APPROVAL"
	StatusPaid              OrderStatus = "PAID"
	StatusShippingScheduled OrderStatus = "SHIPPING_SCHEDULED"
	StatusCompensating      OrderStatus = "COMPENSATING"
	StatusNeedsAttention    OrderStatus = "NEEDS_ATTENTION"
	StatusCompleted         OrderStatus = "COMPLETED"
	StatusRejected          OrderStatus = "REJECTED"
	StatusCancelled         OrderStatus = "CANCELLED"
)

// Final reports whether the order has reached its outcome.
func (s OrderStatus) Final() bool {
	return s == StatusCompleted || s == StatusRejected || s == StatusCancelled
}

// Settled reports whether the order will not move without a person: final, awaiting
// approval, or needing attention.
func (s OrderStatus) Settled() bool {
	return s.Final() || s == StatusAwaitingApproval || s == StatusNeedsAttention
}

// Step names a saga step, as in the saga table.
type Step string

// The saga's steps, in order.
const (
	StepCreateOrder      Step = "CreateOrder"
	StepReserveInventory Step = "ReserveInventory"
	StepRedeemCoupon     Step = "RedeemCoupon"
	StepApproval         Step = "Approval"
	StepChargePayment    Step = "ChargePayment"
	StepScheduleShipping Step = "ScheduleShipping"
	StepConfirmOrder     Step = "ConfirmOrder"
)

// Steps lists the saga's steps in order.
var Steps = []Step{StepCreateOrder, StepReserveInventory, StepRedeemCoupon, StepApproval, StepChargePayment, StepScheduleShipping, StepConfirmOrder}

// StepStatus is where one step stands.
type StepStatus string

// Step statuses.
const (
	StepPending            StepStatus = "PENDING"
	StepRunning            StepStatus = "RUNNING"
	StepCompleted          StepStatus = "COMPLETED"
	StepFailed             StepStatus = "FAILED"
	StepSkipped            StepStatus = "SKIPPED"
	StepCompensating       StepStatus = "COMPENSATING"
	StepCompensated        StepStatus = "COMPENSATED"
	StepCompensationFailed StepStatus = "COMPENSATION_FAILED"
)

// StepState is one step of the order as the status query reports it.
type StepState struct {
	Name   Step       `json:"name"`
	Status StepStatus `json:"status"`
	// Attempts counts the attempts of the step's activity.
	Attempts int32 `json:"attempts"`
	// Detail says what the step did ("charged $30.00", "approved by alice").
	Detail string `json:"detail,omitempty"`
	// Error is the step's failure.
	Error *ErrorInfo `json:"error,omitempty"`
	// Compensation is set once the step's compensation started.
	Compensation *CompensationState `json:"compensation,omitempty"`
}

// CompensationState is the last run of a step's compensation.
type CompensationState struct {
	// Attempts counts the attempts of the compensation's last activity run.
	Attempts int32 `json:"attempts"`
	// Runs counts how often the compensation was run (operators may retry it).
	Runs int `json:"runs"`
	// Detail says what the compensation did ("payment REFUNDED") or how an operator
	// resolved it.
	Detail string `json:"detail,omitempty"`
	// Error is the compensation's last failure.
	Error *ErrorInfo `json:"error,omitempty"`
}

// ErrorInfo is a failure as the API shows it.
type ErrorInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Failure says which step failed the order and why.
type Failure struct {
	Step    Step   `json:"step"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Decision is the payload of approve, reject, cancel, retry-compensations and
// resolve-manually: who decided and why. Every field is optional, but resolve-manually
// needs a Note.
type Decision struct {
	By   string `json:"by,omitempty"`
	Note string `json:"note,omitempty"`
}

// Event is an operator's or customer's action on the order, kept in the state.
type Event struct {
	Action string    `json:"action"`
	By     string    `json:"by,omitempty"`
	Note   string    `json:"note,omitempty"`
	At     time.Time `json:"at"`
}

// Attention describes why an order needs an operator.
type Attention struct {
	// Step is the step whose compensation keeps failing.
	Step  Step      `json:"step"`
	Error ErrorInfo `json:"error"`
	Since time.Time `json:"since"`
}

// OrderState is the order as the workflow knows it: the status query's answer and the
// workflow's result.
type OrderState struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId"`
	Items      []Item `json:"items"`
	// SubtotalCents is the items' price; DiscountCents what the coupon (CouponCode) took
	// off it once redeemed; TotalCents what the customer pays, the one minus the other.
	SubtotalCents int64       `json:"subtotalCents"`
	CouponCode    string      `json:"couponCode,omitempty"`
	DiscountCents int64       `json:"discountCents,omitempty"`
	TotalCents    int64       `json:"totalCents"`
	Currency      string      `json:"currency"`
	Status        OrderStatus `json:"status"`
	Steps         []StepState `json:"steps"`
	Failure       *Failure    `json:"failure,omitempty"`
	// ApprovalRequired says whether the order's total needed an operator's approval.
	ApprovalRequired bool `json:"approvalRequired"`
	// ApprovalDeadline is when an undecided order is rejected.
	ApprovalDeadline *time.Time `json:"approvalDeadline,omitempty"`
	// Attention is set while the order is NEEDS_ATTENTION.
	Attention *Attention `json:"attention,omitempty"`
	// Events lists approvals, rejections, cancellations and operator actions.
	Events []Event `json:"events,omitempty"`
	// Version increases with every status change.
	Version int64 `json:"version"`
	// TraceID is the trace of the request that placed the order (see OrderInput).
	TraceID    string    `json:"traceId,omitempty"`
	WorkflowID string    `json:"workflowId"`
	RunID      string    `json:"runId"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Step returns the state of one step.
func (s *OrderState) Step(name Step) *StepState {
	for i := range s.Steps {
		if s.Steps[i].Name == name {
			return &s.Steps[i]
		}
	}
	panic("unknown step " + string(name)) // Steps always holds every step
}
