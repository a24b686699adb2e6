package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/internal/httpx"
)

// Names by which clients, the CLI and the Web UI reach an order's workflow.
const (
	// WorkflowType is the registered name of OrderWorkflow.
	WorkflowType = "OrderWorkflow"
	// DefaultTaskQueue is the task queue the worker polls unless configured otherwise.
	DefaultTaskQueue = "orders"

	// QueryStatus returns the order's OrderState.
	QueryStatus = "status"

	// SignalApprove and SignalReject decide an order that awaits approval (payload: Decision).
	SignalApprove = "approve"
	SignalReject  = "reject"
	// SignalRetryCompensations re-runs the compensation that is stuck (payload: Decision).
	SignalRetryCompensations = "retry-compensations"
	// SignalResolveManually records that an operator undid the stuck step by hand, and
	// moves on (payload: Decision with a Note).
	SignalResolveManually = "resolve-manually"

	// UpdateCancel asks to cancel the order (payload: Decision); it is refused past the
	// point of no return.
	UpdateCancel = "cancel"
	// UpdateApprove, UpdateReject, UpdateRetryCompensations and UpdateResolveManually are
	// the signals above as updates: the caller learns at once whether they applied.
	UpdateApprove            = SignalApprove
	UpdateReject             = SignalReject
	UpdateRetryCompensations = SignalRetryCompensations
	UpdateResolveManually    = SignalResolveManually
	// UpdateAwaitSettled returns the state once the order settles (see Settled). It has
	// no timer: the caller stops waiting when it likes, and the update completes when the
	// order settles. The API sends it with the order's start (update-with-start), so that
	// placing an order and waiting for its outcome is one request to Temporal; a client
	// waiting on an order that runs already reads the read model instead, and costs the
	// workflow nothing.
	UpdateAwaitSettled = "await-settled"
	// UpdateWaitSettled returns the state once the order settles or the given wait ends
	// (payload: Duration), with a timer. Orders placed before await-settled existed were
	// waited on with it; it stays registered so that their histories replay.
	UpdateWaitSettled = "wait-settled"
)

// ErrTypeInvalidState is the type of the error with which an update is refused because
// the order is not in a state that allows it (the API answers 409).
const ErrTypeInvalidState = "InvalidOrderState"

// WorkflowID returns the workflow ID of an order: "order-<orderId>".
func WorkflowID(orderID string) string { return "order-" + orderID }

// Order, Item and Address are the activities' order types, named here for the
// workflow's clients.
type (
	Order   = activities.Order
	Item    = activities.Item
	Address = activities.Address
)

// OrderInput starts an order's saga.
type OrderInput struct {
	Order
	// Policy is fixed when the order is placed; zero fields take the defaults.
	Policy Policy `json:"policy"`
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
}

// Policy defaults.
const (
	DefaultApprovalThresholdCents = 100000
	DefaultApprovalTimeout        = 24 * time.Hour
	DefaultCompensationAttempts   = 10
)

// withDefaults fills the zero fields of p.
func (p Policy) withDefaults() Policy {
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
	StepApproval         Step = "Approval"
	StepChargePayment    Step = "ChargePayment"
	StepScheduleShipping Step = "ScheduleShipping"
	StepConfirmOrder     Step = "ConfirmOrder"
)

// Steps lists the saga's steps in order.
var Steps = []Step{StepCreateOrder, StepReserveInventory, StepApproval, StepChargePayment, StepScheduleShipping, StepConfirmOrder}

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

// Limits of a Decision's fields, in characters. Longer text is cut (see Normalized).
const (
	MaxDecisionBy   = 100
	MaxDecisionNote = 1000
)

// Normalized returns d as the order records it: control characters (a newline typed on
// the CLI, say) become spaces, surrounding blanks go, and each field is cut to its limit.
// Everything the saga passes on to a service is built from normalized decisions.
func (d Decision) Normalized() Decision {
	return Decision{By: httpx.CleanText(d.By, MaxDecisionBy), Note: httpx.CleanText(d.Note, MaxDecisionNote)}
}

// DecodeDecision reads a signal's payload: a JSON object with the fields of Decision and
// no others, or nothing (an empty decision). It returns the decision normalized, or an
// error saying what is wrong with the payload.
func DecodeDecision(payload []byte) (Decision, error) {
	var d Decision
	if len(bytes.TrimSpace(payload)) == 0 || string(bytes.TrimSpace(payload)) == "null" {
		return d, nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	// encoding/json is deterministic; workflowcheck follows its reflection into the runtime.
	err := dec.Decode(&d) //workflowcheck:ignore
	if err != nil {
		return Decision{}, fmt.Errorf(`want {"by": "...", "note": "..."}: %w`, err)
	}
	if dec.More() {
		return Decision{}, errors.New(`want a single {"by": "...", "note": "..."} object`)
	}
	return d.Normalized(), nil
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
	OrderID    string      `json:"orderId"`
	CustomerID string      `json:"customerId"`
	Items      []Item      `json:"items"`
	TotalCents int64       `json:"totalCents"`
	Currency   string      `json:"currency"`
	Status     OrderStatus `json:"status"`
	Steps      []StepState `json:"steps"`
	Failure    *Failure    `json:"failure,omitempty"`
	// ApprovalRequired says whether the order's total needed an operator's approval.
	ApprovalRequired bool `json:"approvalRequired"`
	// ApprovalDeadline is when an undecided order is rejected.
	ApprovalDeadline *time.Time `json:"approvalDeadline,omitempty"`
	// Attention is set while the order is NEEDS_ATTENTION.
	Attention *Attention `json:"attention,omitempty"`
	// Events lists approvals, rejections, cancellations and operator actions.
	Events []Event `json:"events,omitempty"`
	// Version increases with every status change.
	Version    int64     `json:"version"`
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
