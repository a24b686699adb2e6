package order

// The order's domain events. The store writes each into the service's outbox (see
// internal/outbox) in the transaction that makes the change it describes, and only when
// the call changed the order: a replayed create or confirm, a refusal, a cancel that
// leaves a tombstone or finds the order already cancelled write none, and SetStatus
// writes one only when it ends an order CANCELLED or REJECTED (resolved by hand). An
// event's body is the Order as it stands after the change, as GET /orders/{id} returns it.

// service names the order service in its events (and its migration lock).
const service = "order"

// Event types of the order service.
const (
	// EventOrderCreated: Create created the order, PENDING.
	EventOrderCreated = "OrderCreated"
	// EventOrderConfirmed: Confirm completed the order.
	EventOrderConfirmed = "OrderConfirmed"
	// EventOrderCancelled: Cancel cancelled the order (CANCELLED).
	EventOrderCancelled = "OrderCancelled"
	// EventOrderRejected: Cancel rejected the order (REJECTED).
	EventOrderRejected = "OrderRejected"
)

// cancelEvent is the event of an order that Cancel or SetStatus moved to status now.
func cancelEvent(status Status) string {
	if status == Rejected {
		return EventOrderRejected
	}
	return EventOrderCancelled
}
