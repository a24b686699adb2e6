// Package outbox gives each service a transactional outbox: a service writes its domain
// events into its own `outbox` table in the same database transaction as the state change
// they describe (Add), and a relay (Relay) publishes them afterwards to NATS JetStream.
// An event is therefore published if and only if its change committed, however the
// process dies: an event committed but not yet published is published after a restart,
// and one published but not yet marked is published again and dropped by JetStream's
// duplicate window, which knows it by its event ID.
//
// Events go to the stream ORDERSAGA on the subject ordersaga.<service>.<type>. The
// message is the Event as JSON; its Nats-Msg-Id header is the event ID and its
// Ordersaga-Order-Id header the order ID. Within one service the events of an order are
// published in the order they were written; the services' outboxes are independent, so
// across services a consumer orders an order's events by OccurredAt (each saga step starts
// after the previous one committed).
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// The stream the relays publish to and how its subjects are named.
const (
	// Stream is the JetStream stream holding every service's events.
	Stream = "ORDERSAGA"
	// SubjectPrefix starts every event's subject: ordersaga.<service>.<type>.
	SubjectPrefix = "ordersaga."
	// HeaderOrderID carries the event's order ID, for consumers that filter on headers.
	HeaderOrderID = "Ordersaga-Order-Id"
	// SchemaVersion is the version of the events' bodies written now. A change to a body
	// that a consumer could trip on (a field renamed or retyped) raises it.
	SchemaVersion = 1
)

// Event is one domain event, as it is stored and as a consumer receives it.
type Event struct {
	// ID identifies the event; JetStream drops a second publication of the same ID.
	ID string `json:"id"`
	// Service is the service that wrote it: order, inventory, payment or shipping.
	Service string `json:"service"`
	// Type names what happened: OrderCreated, StockReserved, PaymentCharged, ...
	Type string `json:"type"`
	// OrderID is the order the event belongs to.
	OrderID string `json:"orderId"`
	// OccurredAt is when the change was written, in UTC.
	OccurredAt time.Time `json:"occurredAt"`
	// SchemaVersion is the version of Body's shape.
	SchemaVersion int `json:"schemaVersion"`
	// Body is the service's view of what changed: the order, reservation, payment,
	// redemption or shipment as it stands after the change, as its GET returns it.
	Body json.RawMessage `json:"body"`
}

// Subject is the NATS subject the event is published on.
func (e Event) Subject() string { return SubjectPrefix + e.Service + "." + e.Type }

// row is the outbox table. Seq orders the events as they were written; PublishedAt is set
// once JetStream acknowledged the event.
type row struct {
	Seq           int64     `gorm:"primaryKey;autoIncrement"`
	ID            string    `gorm:"size:36;not null;uniqueIndex:idx_outbox_id"`
	Service       string    `gorm:"size:16;not null"`
	Type          string    `gorm:"size:64;not null"`
	OrderID       string    `gorm:"size:100;not null;index:idx_outbox_order"`
	OccurredAt    time.Time `gorm:"not null"`
	SchemaVersion int       `gorm:"not null"`
	Body          string    `gorm:"type:text;not null"`
	// The partial index keeps the relay's "what is left to publish" query cheap however
	// many published rows are kept.
	PublishedAt *time.Time `gorm:"index:idx_outbox_pending,where:published_at IS NULL"`
}

func (row) TableName() string { return "outbox" }

func (r row) event() Event {
	return Event{ID: r.ID, Service: r.Service, Type: r.Type, OrderID: r.OrderID, OccurredAt: r.OccurredAt.UTC(),
		SchemaVersion: r.SchemaVersion, Body: json.RawMessage(r.Body)}
}

// Migrate creates the outbox table when missing; each service's migration calls it.
func Migrate(tx *gorm.DB) error {
	return tx.AutoMigrate(&row{})
}

// Add writes an event of service into the outbox within tx, the transaction that makes
// the change it describes: the event is published if and only if tx commits. body is
// marshalled to JSON.
//
// A store passes the row as it has just written it, not read back: a read would cost a
// round trip to the database per event, and gives back the same values, since the times
// a store writes come from its NowFunc at the precision the database keeps
// (database.Open). Each service's events test holds a body against its GET.
func Add(tx *gorm.DB, service, eventType, orderID string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("event %s of order %s: %w", eventType, orderID, err)
	}
	r := row{ID: uuid.NewString(), Service: service, Type: eventType, OrderID: orderID,
		OccurredAt: tx.NowFunc().UTC(), SchemaVersion: SchemaVersion, Body: string(b)}
	if err := tx.Create(&r).Error; err != nil {
		return fmt.Errorf("write event %s of order %s: %w", eventType, orderID, err)
	}
	return nil
}

// Events returns the events of the outbox in db, published or not, oldest first; with
// orderID, only that order's. Tests and operators read the outbox through it.
func Events(ctx context.Context, db *gorm.DB, orderID string) ([]Event, error) {
	q := db.WithContext(ctx).Order("seq")
	if orderID != "" {
		q = q.Where("order_id = ?", orderID)
	}
	var rows []row
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	events := make([]Event, len(rows))
	for i, r := range rows {
		events[i] = r.event()
	}
	return events, nil
}

// Backlog counts the events of the outbox in db not yet published.
func Backlog(ctx context.Context, db *gorm.DB) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&row{}).Where("published_at IS NULL").Count(&n).Error
	return n, err
}
