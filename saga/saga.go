// Package saga is the contract of the order saga: what its callers and its worker agree
// on. The order that starts a saga (Order, Item, Address, Policy), the state it reports
// (OrderState, its statuses and steps), the names of its workflow, query, signals and
// updates, its search attributes, the inputs and result of its activities, and the types
// of the errors it fails with.
//
// The API, the starter, the workflow and the activities import it; it imports nothing of
// the project, so that the contract has one home and every side reads the same one.
// Changing a JSON name here changes the payloads in Temporal's histories: running orders
// must still decode.
package saga

import (
	"go.temporal.io/sdk/temporal"
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

// Search attributes of an order's workflow. They must be registered on the namespace
// (`make run`'s dev server does it; RUNBOOK.md has the command for a cluster). Clients set
// all three when they start an order, and the workflow upserts OrderStatus on every change,
// so operators can list orders with queries such as `OrderStatus = "NEEDS_ATTENTION"`.
// OrderTotalCents is the order's price as placed: its subtotal, before a coupon's
// discount, which is known only once RedeemCoupon ran.
var (
	SearchAttrOrderStatus     = temporal.NewSearchAttributeKeyKeyword("OrderStatus")
	SearchAttrCustomerID      = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	SearchAttrOrderTotalCents = temporal.NewSearchAttributeKeyInt64("OrderTotalCents")
)

// SearchAttributes returns the search attributes to start an order's workflow with.
func SearchAttributes(in OrderInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SearchAttrOrderStatus.ValueSet(string(StatusPending)),
		SearchAttrCustomerID.ValueSet(in.CustomerID),
		SearchAttrOrderTotalCents.ValueSet(in.TotalCents),
	)
}
