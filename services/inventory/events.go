package inventory

// The inventory's domain events. The store writes each into the service's outbox (see
// internal/outbox) in the transaction that makes the change it describes, and only when
// the call changed a reservation: a replayed reserve, a refusal (out of stock, an unknown
// product, a conflict), a release that leaves a tombstone or finds the stock already
// released, and the catalogue's writes write none. An event's body is the Reservation as
// it stands after the change, as GET /reservations/{orderId} returns it.

// service names the inventory service in its events (and its migration lock).
const service = "inventory"

// Event types of the inventory service.
const (
	// EventStockReserved: Reserve took the stock of every item of the order.
	EventStockReserved = "StockReserved"
	// EventStockReleased: Release gave the order's reserved stock back.
	EventStockReleased = "StockReleased"
)
