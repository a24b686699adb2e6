package books

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// Events is what a consumer read from the event stream.
type Events struct {
	// ByOrder holds each order's events in stream order.
	ByOrder map[string][]outbox.Event
	// Repeated lists the event IDs delivered more than once.
	Repeated []string
}

// ReadStream reads the whole event stream through js.
func ReadStream(ctx context.Context, js jetstream.JetStream) (Events, error) {
	e := Events{ByOrder: map[string][]outbox.Event{}}
	seen := map[string]bool{}
	err := outbox.Consume(ctx, js, false, func(ev outbox.Event) error {
		if seen[ev.ID] {
			e.Repeated = append(e.Repeated, ev.ID)
		}
		seen[ev.ID] = true
		e.ByOrder[ev.OrderID] = append(e.ByOrder[ev.OrderID], ev)
		return nil
	})
	return e, err
}

// ConnectStream connects to the NATS server at url and returns a reader of the whole
// event stream (ReadStream), as CheckEvents takes it, and a function closing the
// connection.
func ConnectStream(url string) (read func(context.Context) (Events, error), closeConn func(), err error) {
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return func(ctx context.Context) (Events, error) { return ReadStream(ctx, js) }, nc.Close, nil
}

// Orders is the order service's own record of orders: *order.Client.
type Orders interface {
	Get(ctx context.Context, orderID string) (order.Order, error)
}

// CheckEvents checks that the event stream tells exactly what the services hold for each
// of the orders, whatever happened on the way: for each service, an order's events in
// stream order are those its records imply (a reservation RELEASED: StockReserved then
// StockReleased; a payment VOIDED: PaymentVoided; a tombstone: none), and no event is
// delivered twice. The relays publish after the fact, so it reads the stream again until
// the two agree or within has passed, and returns the disagreements left.
func CheckEvents(ctx context.Context, src Source, orders Orders, orderIDs []string,
	read func(context.Context) (Events, error), within time.Duration) ([]string, error) {
	want := map[string]map[string][]string{} // order → event group → types
	for _, id := range orderIDs {
		w, err := expectedEvents(ctx, src, orders, id)
		if err != nil {
			return nil, err
		}
		want[id] = w
	}
	deadline := time.Now().Add(within)
	for {
		got, err := read(ctx)
		if err != nil {
			return nil, err
		}
		var problems []string
		for _, id := range orderIDs {
			for _, group := range slices.Sorted(maps.Keys(want[id])) {
				have := typesIn(got.ByOrder[id], group)
				if !slices.Equal(have, want[id][group]) {
					problems = append(problems, fmt.Sprintf("order %s: the stream has %s events %v, its records imply %v",
						id, group, have, want[id][group]))
				}
			}
		}
		if len(got.Repeated) > 0 {
			problems = append(problems, fmt.Sprintf("%d events delivered twice: %v", len(got.Repeated), got.Repeated))
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			return problems, nil
		}
		select {
		case <-ctx.Done():
			return problems, nil
		case <-time.After(time.Second):
		}
	}
}

// The event groups: a service's events about one record of an order, each group in the
// order the record went through them.
var eventGroups = map[string][]string{
	"order":     {order.EventOrderCreated, order.EventOrderConfirmed, order.EventOrderCancelled, order.EventOrderRejected},
	"inventory": {inventory.EventStockReserved, inventory.EventStockReleased},
	"coupon":    {payment.EventCouponRedeemed, payment.EventCouponRestored},
	"payment":   {payment.EventPaymentCharged, payment.EventPaymentRefunded, payment.EventPaymentVoided},
	"shipping":  {shipping.EventShipmentScheduled, shipping.EventShipmentCancelled},
}

// typesIn lists the types of events that belong to group, in order.
func typesIn(events []outbox.Event, group string) []string {
	out := []string{}
	for _, ev := range events {
		if slices.Contains(eventGroups[group], ev.Type) {
			out = append(out, ev.Type)
		}
	}
	return out
}

// expectedEvents derives an order's events, by group, from the services' records.
func expectedEvents(ctx context.Context, src Source, orders Orders, id string) (map[string][]string, error) {
	w := map[string][]string{}
	o, err := orders.Get(ctx, id)
	switch {
	case errors.Is(err, order.ErrNotFound) || err == nil && o.Tombstone:
		w["order"] = []string{}
	case err != nil:
		return nil, fmt.Errorf("order %s: %w", id, err)
	default:
		w["order"] = []string{order.EventOrderCreated}
		switch o.Status {
		case order.Completed:
			w["order"] = append(w["order"], order.EventOrderConfirmed)
		case order.Cancelled:
			w["order"] = append(w["order"], order.EventOrderCancelled)
		case order.Rejected:
			w["order"] = append(w["order"], order.EventOrderRejected)
		}
	}
	rec, err := readRecords(ctx, src, id)
	if err != nil {
		return nil, err
	}
	w["inventory"] = lifecycle(rec.hasReservation, string(rec.reservation.Status), map[string][]string{
		string(inventory.Reserved): {inventory.EventStockReserved},
		string(inventory.Released): {inventory.EventStockReserved, inventory.EventStockReleased},
	})
	w["coupon"] = lifecycle(rec.hasRedemption, string(rec.redemption.Status), map[string][]string{
		string(payment.RedemptionRedeemed): {payment.EventCouponRedeemed},
		string(payment.RedemptionRestored): {payment.EventCouponRedeemed, payment.EventCouponRestored},
	})
	w["payment"] = lifecycle(rec.hasPayment, string(rec.payment.Status), map[string][]string{
		string(payment.Charged):  {payment.EventPaymentCharged},
		string(payment.Refunded): {payment.EventPaymentCharged, payment.EventPaymentRefunded},
		string(payment.Voided):   {payment.EventPaymentVoided},
	})
	w["shipping"] = lifecycle(rec.hasShipment, string(rec.shipment.Status), map[string][]string{
		string(shipping.Scheduled): {shipping.EventShipmentScheduled},
		string(shipping.Cancelled): {shipping.EventShipmentScheduled, shipping.EventShipmentCancelled},
	})
	return w, nil
}

// lifecycle is the events a record in status has been through: by status, or none (no
// record, a tombstone, a refusal, a pending attempt).
func lifecycle(exists bool, status string, byStatus map[string][]string) []string {
	if events, ok := byStatus[status]; ok && exists {
		return events
	}
	return []string{}
}
