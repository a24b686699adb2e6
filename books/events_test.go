package books

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/services/order"
)

// records is the order service's record of the orders, in memory.
type records map[string]order.Order

func (r records) Get(_ context.Context, id string) (order.Order, error) {
	o, ok := r[id]
	if !ok {
		return o, fmt.Errorf("order %s: %w", id, order.ErrNotFound)
	}
	return o, nil
}

// told is the stream that tells balanced()'s books, as "service.Type" per order.
func told() map[string][]string {
	return map[string][]string{
		"o-1": {"order.OrderCreated", "inventory.StockReserved", "payment.CouponRedeemed", "payment.PaymentCharged",
			"shipping.ShipmentScheduled", "order.OrderConfirmed"},
		"o-2": {"order.OrderCreated", "inventory.StockReserved", "payment.CouponRedeemed", "payment.PaymentCharged",
			"payment.PaymentRefunded", "payment.CouponRestored", "inventory.StockReleased", "order.OrderRejected"},
	}
}

func stream(byOrder map[string][]string) Events {
	e := Events{ByOrder: map[string][]outbox.Event{}}
	n := 0
	for id, types := range byOrder {
		for _, st := range types {
			svc, typ, _ := strings.Cut(st, ".")
			n++
			e.ByOrder[id] = append(e.ByOrder[id], outbox.Event{ID: fmt.Sprintf("ev-%d", n), Service: svc, Type: typ, OrderID: id})
		}
	}
	return e
}

func TestCheckEventsAgainstTheRecords(t *testing.T) {
	ctx := context.Background()
	orders := records{"o-1": {OrderID: "o-1", Status: order.Completed}, "o-2": {OrderID: "o-2", Status: order.Rejected}}
	check := func(t *testing.T, orders records, e Events) []string {
		t.Helper()
		problems, err := CheckEvents(ctx, balanced(), orders, []string{"o-1", "o-2"},
			func(context.Context) (Events, error) { return e, nil }, 0)
		if err != nil {
			t.Fatal(err)
		}
		return problems
	}
	t.Run("a stream that tells the records is right", func(t *testing.T) {
		if problems := check(t, orders, stream(told())); len(problems) > 0 {
			t.Errorf("problems: %v", problems)
		}
	})
	for _, tc := range []struct {
		name   string
		mangle func(map[string][]string) Events
		orders records
		want   string
	}{
		{"a lost event", func(m map[string][]string) Events {
			m["o-1"] = append(m["o-1"][:3], m["o-1"][4:]...) // no PaymentCharged
			return stream(m)
		}, orders, "order o-1: the stream has payment events []"},
		{"events out of order", func(m map[string][]string) Events {
			m["o-2"][1], m["o-2"][6] = m["o-2"][6], m["o-2"][1]
			return stream(m)
		}, orders, "order o-2: the stream has inventory events [StockReleased StockReserved]"},
		{"an event delivered twice", func(m map[string][]string) Events {
			e := stream(m)
			e.ByOrder["o-1"] = append(e.ByOrder["o-1"], e.ByOrder["o-1"][0])
			e.Repeated = []string{e.ByOrder["o-1"][0].ID}
			return e
		}, orders, "delivered twice"},
		{"an event of a tombstone", func(m map[string][]string) Events { return stream(m) },
			records{"o-1": {OrderID: "o-1", Status: order.Completed}, "o-2": {OrderID: "o-2", Status: order.Rejected, Tombstone: true}},
			"order o-2: the stream has order events [OrderCreated OrderRejected], its records imply []"},
		{"an order confirmed in the stream but not in the records", func(m map[string][]string) Events { return stream(m) },
			records{"o-1": {OrderID: "o-1", Status: order.NeedsAttention}, "o-2": {OrderID: "o-2", Status: order.Rejected}},
			"order o-1: the stream has order events [OrderCreated OrderConfirmed], its records imply [OrderCreated]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := check(t, tc.orders, tc.mangle(told()))
			if !strings.Contains(strings.Join(problems, "\n"), tc.want) {
				t.Errorf("problems %v, want one saying %q", problems, tc.want)
			}
		})
	}
}
