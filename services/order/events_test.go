package order_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/outbox/outboxtest"
	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/services/order"
)

// startWithOutbox is start, also returning the database whose outbox the test reads.
func startWithOutbox(t *testing.T, cfg database.Config) (service, *gorm.DB) {
	t.Helper()
	db := servicetest.Open(t, cfg)
	url := servicetest.Serve(t, db, order.Operations, order.New)
	return service{url: url, client: order.NewClient(url, nil)}, db
}

// wantBody fails t unless the event's body is the order the GET answers now.
func (s service) wantBody(t *testing.T, e outbox.Event) {
	t.Helper()
	var got order.Order
	if err := json.Unmarshal(e.Body, &got); err != nil {
		t.Fatalf("decode the body of %s: %v (%s)", e.Type, err, e.Body)
	}
	if want := s.get(t, e.OrderID); !reflect.DeepEqual(got, want) {
		t.Errorf("body of %s = %+v\nwant the GET's %+v", e.Type, got, want)
	}
}

func TestEvents(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, db := startWithOutbox(t, cfg)
		rejected := order.CancelRequest{Status: order.Rejected, Reason: "out of stock", FailedStep: "ReserveInventory", ErrorType: "OutOfStock"}
		cancelled := order.CancelRequest{Status: order.Cancelled, Reason: "customer asked"}

		t.Run("create then confirm writes OrderCreated then OrderConfirmed, once each", func(t *testing.T) {
			s.create(t, newOrder("o-ev1"))
			s.wantBody(t, outboxtest.Want(t, db, "order", "o-ev1", order.EventOrderCreated)[0])
			s.create(t, newOrder("o-ev1"))
			outboxtest.Want(t, db, "order", "o-ev1", order.EventOrderCreated)

			state := []byte(`{"steps":["ReserveInventory"]}`)
			if _, err := s.client.SetStatus(ctx, "o-ev1", order.StatusUpdate{Status: order.Reserved, Version: 1, State: state}); err != nil {
				t.Fatal(err)
			}
			outboxtest.Want(t, db, "order", "o-ev1", order.EventOrderCreated)

			if _, err := s.client.Confirm(ctx, "o-ev1"); err != nil {
				t.Fatal(err)
			}
			events := outboxtest.Want(t, db, "order", "o-ev1", order.EventOrderCreated, order.EventOrderConfirmed)
			s.wantBody(t, events[1])
			if _, err := s.client.Confirm(ctx, "o-ev1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Cancel(ctx, "o-ev1", cancelled); !errors.Is(err, order.ErrCompleted) {
				t.Fatalf("cancel of a completed order: err = %v, want ErrCompleted", err)
			}
			outboxtest.Want(t, db, "order", "o-ev1", order.EventOrderCreated, order.EventOrderConfirmed)
		})
		t.Run("a confirm with the saga's view keeps it and writes OrderConfirmed with it, once", func(t *testing.T) {
			s.create(t, newOrder("o-ev9"))
			if _, err := s.client.SetStatus(ctx, "o-ev9", order.StatusUpdate{Status: order.Reserved, Version: 1, State: []byte(`{"status":"RESERVED"}`)}); err != nil {
				t.Fatal(err)
			}
			for _, bad := range []order.ConfirmRequest{{Version: 2}, {Version: 2, State: []byte(`[1]`)}, {State: []byte(`{}`)}} {
				if _, err := s.client.ConfirmWithView(ctx, "o-ev9", bad); !errors.Is(err, validate.ErrInvalid) {
					t.Errorf("confirm with view %+v: err = %v, want invalid", bad, err)
				}
			}
			outboxtest.Want(t, db, "order", "o-ev9", order.EventOrderCreated)

			view := order.ConfirmRequest{Version: 2, State: []byte(`{"status":"COMPLETED"}`)}
			o, err := s.client.ConfirmWithView(ctx, "o-ev9", view)
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != order.Completed || o.Version != 2 || string(o.State) != string(view.State) {
				t.Fatalf("confirmed = %s v%d %s, want COMPLETED v2 with the view", o.Status, o.Version, o.State)
			}
			events := outboxtest.Want(t, db, "order", "o-ev9", order.EventOrderCreated, order.EventOrderConfirmed)
			s.wantBody(t, events[1])

			// A retried confirm with the same view, and a stale one, change nothing; a newer
			// status update still replaces the view.
			for _, again := range []order.ConfirmRequest{view, {Version: 1, State: []byte(`{"status":"stale"}`)}} {
				if got, err := s.client.ConfirmWithView(ctx, "o-ev9", again); err != nil || !reflect.DeepEqual(got, o) {
					t.Errorf("confirm again with v%d = %+v, %v; want the order unchanged", again.Version, got, err)
				}
			}
			if got, err := s.client.SetStatus(ctx, "o-ev9", order.StatusUpdate{Status: order.Completed, Version: 3, State: []byte(`{"attempts":2}`)}); err != nil ||
				got.Status != order.Completed || got.Version != 3 {
				t.Errorf("newer view = %+v, %v; want COMPLETED v3", got, err)
			}
			outboxtest.Want(t, db, "order", "o-ev9", order.EventOrderCreated, order.EventOrderConfirmed)
		})
		t.Run("a confirm with a view of a cancelled order is refused and keeps nothing", func(t *testing.T) {
			s.create(t, newOrder("o-ev10"))
			if _, err := s.client.Cancel(ctx, "o-ev10", cancelled); err != nil {
				t.Fatal(err)
			}
			before := s.get(t, "o-ev10")
			if _, err := s.client.ConfirmWithView(ctx, "o-ev10", order.ConfirmRequest{Version: 5, State: []byte(`{"status":"COMPLETED"}`)}); !errors.Is(err, order.ErrCompensated) {
				t.Fatalf("err = %v, want ErrCompensated", err)
			}
			if got := s.get(t, "o-ev10"); !reflect.DeepEqual(got, before) {
				t.Errorf("after the refused confirm = %+v, want %+v", got, before)
			}
		})
		t.Run("a cancel writes OrderCancelled, a rejection OrderRejected, once", func(t *testing.T) {
			for _, c := range []struct {
				id    string
				req   order.CancelRequest
				event string
			}{{"o-ev2", cancelled, order.EventOrderCancelled}, {"o-ev3", rejected, order.EventOrderRejected}} {
				s.create(t, newOrder(c.id))
				if _, err := s.client.Cancel(ctx, c.id, c.req); err != nil {
					t.Fatal(err)
				}
				s.wantBody(t, outboxtest.Want(t, db, "order", c.id, order.EventOrderCreated, c.event)[1])
				if _, err := s.client.Cancel(ctx, c.id, c.req); err != nil {
					t.Fatal(err)
				}
				if _, err := s.client.Confirm(ctx, c.id); !errors.Is(err, order.ErrCompensated) {
					t.Fatalf("confirm of %s: err = %v, want ErrCompensated", c.id, err)
				}
				if _, err := s.client.Create(ctx, newOrder(c.id)); !errors.Is(err, order.ErrCompensated) {
					t.Fatalf("create of %s: err = %v, want ErrCompensated", c.id, err)
				}
				outboxtest.Want(t, db, "order", c.id, order.EventOrderCreated, c.event)
			}
		})
		t.Run("a conflicting create writes nothing", func(t *testing.T) {
			s.create(t, newOrder("o-ev4"))
			other := newOrder("o-ev4")
			other.CustomerID = "cust-2"
			if _, err := s.client.Create(ctx, other); !errors.Is(err, order.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			outboxtest.Want(t, db, "order", "o-ev4", order.EventOrderCreated)
		})
		t.Run("a cancel of an order never created leaves a tombstone and no event", func(t *testing.T) {
			o, err := s.client.Cancel(ctx, "o-ev5", rejected)
			if err != nil || !o.Tombstone {
				t.Fatalf("cancel = %+v, %v; want a tombstone", o, err)
			}
			if _, err := s.client.Create(ctx, newOrder("o-ev5")); !errors.Is(err, order.ErrCompensated) {
				t.Fatalf("late create: err = %v, want ErrCompensated", err)
			}
			outboxtest.Want(t, db, "order", "o-ev5")
		})
		t.Run("SetStatus writes an event only when it ends the order", func(t *testing.T) {
			s.create(t, newOrder("o-ev6"))
			if _, err := s.client.SetStatus(ctx, "o-ev6", order.StatusUpdate{Status: order.Reserved, Version: 1}); err != nil {
				t.Fatal(err)
			}
			outboxtest.Want(t, db, "order", "o-ev6", order.EventOrderCreated)
			// An operator resolved the order's compensation by hand: it ends REJECTED.
			for range 2 {
				if _, err := s.client.SetStatus(ctx, "o-ev6", order.StatusUpdate{Status: order.Rejected, Version: 2, Reason: "by hand"}); err != nil {
					t.Fatal(err)
				}
			}
			outboxtest.Want(t, db, "order", "o-ev6", order.EventOrderCreated, order.EventOrderRejected)
		})
		outboxtest.Count(t, db)
	})
}

func TestEventsOfConcurrentCalls(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, db := startWithOutbox(t, cfg)
		const n = 10
		for _, call := range []func() error{
			func() error { _, err := s.client.Create(ctx, newOrder("o-cc")); return err },
			func() error { _, err := s.client.Confirm(ctx, "o-cc"); return err },
		} {
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { errs[i] = call() })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
		}
		outboxtest.Want(t, db, "order", "o-cc", order.EventOrderCreated, order.EventOrderConfirmed)
	})
}

func TestNoEventWithoutItsChange(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, db := startWithOutbox(t, cfg)
		s.create(t, newOrder("o-rb2"))
		failing := outboxtest.FailWrites(t, db)
		failing.Store(true)

		// The event's failure rolls the change back with it, and the event's row too.
		if _, err := s.client.Create(ctx, newOrder("o-rb1")); err == nil {
			t.Fatal("create succeeded while its event could not be written")
		}
		if _, err := s.client.Get(ctx, "o-rb1"); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("get after the failed create: err = %v, want ErrNotFound", err)
		}
		outboxtest.Want(t, db, "order", "o-rb1")
		if _, err := s.client.Confirm(ctx, "o-rb2"); err == nil {
			t.Fatal("confirm succeeded while its event could not be written")
		}
		if o := s.get(t, "o-rb2"); o.Status != order.Pending {
			t.Errorf("status after the failed confirm = %s, want PENDING", o.Status)
		}
		outboxtest.Want(t, db, "order", "o-rb2", order.EventOrderCreated)

		failing.Store(false)
		if _, err := s.client.Confirm(ctx, "o-rb2"); err != nil {
			t.Fatal(err)
		}
		outboxtest.Want(t, db, "order", "o-rb2", order.EventOrderCreated, order.EventOrderConfirmed)
	})
}
