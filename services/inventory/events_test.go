package inventory_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/outbox/outboxtest"
	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/services/inventory"
)

// startWithOutbox is start, also returning the database whose outbox the test reads.
func startWithOutbox(t *testing.T, cfg database.Config) (service, *gorm.DB) {
	t.Helper()
	db := servicetest.Open(t, cfg)
	url := servicetest.Serve(t, db, inventory.Operations, inventory.New)
	if err := inventory.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return service{url: url, client: inventory.NewClient(url, nil)}, db
}

// wantBody fails t unless the event's body is the reservation the GET answers now.
func (s service) wantBody(t *testing.T, e outbox.Event) {
	t.Helper()
	var got inventory.Reservation
	if err := json.Unmarshal(e.Body, &got); err != nil {
		t.Fatalf("decode the body of %s: %v (%s)", e.Type, err, e.Body)
	}
	want, err := s.client.Reservation(context.Background(), e.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body of %s = %+v\nwant the GET's %+v", e.Type, got, want)
	}
}

func TestEvents(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, db := startWithOutbox(t, cfg)
		items := []inventory.Item{{SKU: "SKU-BOOK", Quantity: 2}, {SKU: "SKU-MUG", Quantity: 1}}

		t.Run("reserve then release writes StockReserved then StockReleased, once each", func(t *testing.T) {
			if _, err := s.client.Reserve(ctx, "o-ev1", items); err != nil {
				t.Fatal(err)
			}
			s.wantBody(t, outboxtest.Want(t, db, "inventory", "o-ev1", inventory.EventStockReserved)[0])
			if _, err := s.client.Reserve(ctx, "o-ev1", items); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Reserve(ctx, "o-ev1", items[:1]); !errors.Is(err, inventory.ErrConflict) {
				t.Fatalf("reserve of other items: err = %v, want ErrConflict", err)
			}
			outboxtest.Want(t, db, "inventory", "o-ev1", inventory.EventStockReserved)

			if _, err := s.client.Release(ctx, "o-ev1"); err != nil {
				t.Fatal(err)
			}
			s.wantBody(t, outboxtest.Want(t, db, "inventory", "o-ev1", inventory.EventStockReserved, inventory.EventStockReleased)[1])
			if _, err := s.client.Release(ctx, "o-ev1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Reserve(ctx, "o-ev1", items); !errors.Is(err, inventory.ErrCompensated) {
				t.Fatalf("reserve after the release: err = %v, want ErrCompensated", err)
			}
			outboxtest.Want(t, db, "inventory", "o-ev1", inventory.EventStockReserved, inventory.EventStockReleased)
		})
		t.Run("a refused reserve writes nothing", func(t *testing.T) {
			if _, err := s.client.Reserve(ctx, "o-ev2", []inventory.Item{{SKU: "SKU-MUG", Quantity: 1}, {SKU: "SKU-SOLDOUT", Quantity: 1}}); !errors.Is(err, inventory.ErrOutOfStock) {
				t.Fatalf("err = %v, want ErrOutOfStock", err)
			}
			if _, err := s.client.Reserve(ctx, "o-ev2", []inventory.Item{{SKU: "SKU-NOPE", Quantity: 1}}); !errors.Is(err, inventory.ErrUnknownProduct) {
				t.Fatalf("err = %v, want ErrUnknownProduct", err)
			}
			outboxtest.Want(t, db, "inventory", "o-ev2")
		})
		t.Run("a release of an order never reserved leaves a tombstone and no event", func(t *testing.T) {
			r, err := s.client.Release(ctx, "o-ev3")
			if err != nil || r.Status != inventory.Voided {
				t.Fatalf("release = %+v, %v; want VOIDED", r, err)
			}
			if _, err := s.client.Release(ctx, "o-ev3"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Reserve(ctx, "o-ev3", items); !errors.Is(err, inventory.ErrCompensated) {
				t.Fatalf("late reserve: err = %v, want ErrCompensated", err)
			}
			outboxtest.Want(t, db, "inventory", "o-ev3")
		})
		t.Run("the catalogue's writes write no event", func(t *testing.T) {
			before := outboxtest.Count(t, db)
			s.restock(t, "SKU-BOOK", 500)
			s.restock(t, "SKU-NEW", 5)
			if after := outboxtest.Count(t, db); after != before {
				t.Errorf("the outbox went from %d to %d events", before, after)
			}
		})
	})
}

func TestEventsOfConcurrentCalls(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, db := startWithOutbox(t, cfg)
		const n = 10
		t.Run("of orders racing for the last unit, only the winner's reservation is an event", func(t *testing.T) {
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, errs[i] = s.client.Reserve(ctx, fmt.Sprintf("o-race-%d", i), []inventory.Item{{SKU: "SKU-RARE", Quantity: 1}})
				})
			}
			wg.Wait()
			winners := 0
			for i, err := range errs {
				id := fmt.Sprintf("o-race-%d", i)
				switch {
				case err == nil:
					winners++
					outboxtest.Want(t, db, "inventory", id, inventory.EventStockReserved)
				case errors.Is(err, inventory.ErrOutOfStock):
					outboxtest.Want(t, db, "inventory", id)
				default:
					t.Errorf("reserve %s: %v", id, err)
				}
			}
			if winners != 1 {
				t.Errorf("%d orders reserved the last unit, want 1", winners)
			}
		})
		t.Run("identical reserves and releases at once write one event each", func(t *testing.T) {
			mug := []inventory.Item{{SKU: "SKU-MUG", Quantity: 1}}
			for _, call := range []func() error{
				func() error { _, err := s.client.Reserve(ctx, "o-same", mug); return err },
				func() error { _, err := s.client.Release(ctx, "o-same"); return err },
			} {
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { errs[i] = call() })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
			}
			outboxtest.Want(t, db, "inventory", "o-same", inventory.EventStockReserved, inventory.EventStockReleased)
		})
	})
}

func TestNoEventWithoutItsChange(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, db := startWithOutbox(t, cfg)
		items := []inventory.Item{{SKU: "SKU-BOOK", Quantity: 2}}
		if _, err := s.client.Reserve(ctx, "o-rb2", items); err != nil {
			t.Fatal(err)
		}
		failing := outboxtest.FailWrites(t, db)
		failing.Store(true)

		// The event's failure rolls the change back with it, and the event's row too.
		if _, err := s.client.Reserve(ctx, "o-rb1", items); err == nil {
			t.Fatal("reserve succeeded while its event could not be written")
		}
		if _, err := s.client.Reservation(ctx, "o-rb1"); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("reservation after the failed reserve: err = %v, want ErrNotFound", err)
		}
		if _, err := s.client.Release(ctx, "o-rb2"); err == nil {
			t.Fatal("release succeeded while its event could not be written")
		}
		if r, _ := s.client.Reservation(ctx, "o-rb2"); r.Status != inventory.Reserved {
			t.Errorf("reservation after the failed release = %+v, want RESERVED", r)
		}
		if p := s.product(t, "SKU-BOOK"); p.Available != 98 || p.Reserved != 2 {
			t.Errorf("SKU-BOOK = %+v, want available 98 reserved 2: o-rb2's stock alone", p)
		}
		outboxtest.Want(t, db, "inventory", "o-rb1")
		outboxtest.Want(t, db, "inventory", "o-rb2", inventory.EventStockReserved)

		failing.Store(false)
		if _, err := s.client.Release(ctx, "o-rb2"); err != nil {
			t.Fatal(err)
		}
		outboxtest.Want(t, db, "inventory", "o-rb2", inventory.EventStockReserved, inventory.EventStockReleased)
	})
}
