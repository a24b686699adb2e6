package shipping

// The shipping service's domain events. The store writes each into the service's outbox
// (see internal/outbox) in the transaction that makes the change it describes, and only
// when the call changed a shipment: a replayed schedule, a refusal (an unserved address, a
// conflict), and a cancel that leaves a tombstone or finds the shipment already cancelled
// write none. An event's body is the Shipment as it stands after the change, as
// GET /shipments/{orderId} returns it.

// service names the shipping service in its events (and its migration lock).
const service = "shipping"

// Event types of the shipping service.
const (
	// EventShipmentScheduled: Schedule scheduled the order's shipment.
	EventShipmentScheduled = "ShipmentScheduled"
	// EventShipmentCancelled: Cancel cancelled the order's scheduled shipment.
	EventShipmentCancelled = "ShipmentCancelled"
)
