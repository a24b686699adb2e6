package shipping_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/outbox/outboxtest"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// wantBody fails t unless the event's body is the shipment the GET answers now.
func (s service) wantBody(t *testing.T, e outbox.Event) {
	t.Helper()
	var got shipping.Shipment
	if err := json.Unmarshal(e.Body, &got); err != nil {
		t.Fatalf("decode the body of %s: %v (%s)", e.Type, err, e.Body)
	}
	if want := s.shipment(t, e.OrderID); !reflect.DeepEqual(got, want) {
		t.Errorf("body of %s = %+v\nwant the GET's %+v", e.Type, got, want)
	}
}

func TestEvents(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)

		t.Run("schedule then cancel writes ShipmentScheduled then ShipmentCancelled, once each", func(t *testing.T) {
			req := request("o-ev1", "US", "12345")
			if _, err := s.client.Schedule(ctx, req); err != nil {
				t.Fatal(err)
			}
			s.wantBody(t, outboxtest.Want(t, s.db, "shipping", "o-ev1", shipping.EventShipmentScheduled)[0])
			if _, err := s.client.Schedule(ctx, req); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Schedule(ctx, request("o-ev1", "CA", "12345")); !errors.Is(err, shipping.ErrConflict) {
				t.Fatalf("schedule to another address: err = %v, want ErrConflict", err)
			}
			outboxtest.Want(t, s.db, "shipping", "o-ev1", shipping.EventShipmentScheduled)

			if _, err := s.client.Cancel(ctx, "o-ev1"); err != nil {
				t.Fatal(err)
			}
			s.wantBody(t, outboxtest.Want(t, s.db, "shipping", "o-ev1", shipping.EventShipmentScheduled, shipping.EventShipmentCancelled)[1])
			if _, err := s.client.Cancel(ctx, "o-ev1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Schedule(ctx, req); !errors.Is(err, shipping.ErrCompensated) {
				t.Fatalf("schedule after the cancel: err = %v, want ErrCompensated", err)
			}
			outboxtest.Want(t, s.db, "shipping", "o-ev1", shipping.EventShipmentScheduled, shipping.EventShipmentCancelled)
		})
		t.Run("a schedule to an unserved address writes nothing", func(t *testing.T) {
			for _, req := range []shipping.ScheduleRequest{request("o-ev2", "BR", "12345"), request("o-ev2", "US", shipping.UnservedPostalCode)} {
				if _, err := s.client.Schedule(ctx, req); !errors.Is(err, shipping.ErrShippingUnavailable) {
					t.Fatalf("schedule to %+v: err = %v, want ErrShippingUnavailable", req.Address, err)
				}
			}
			outboxtest.Want(t, s.db, "shipping", "o-ev2")
		})
		t.Run("a cancel of an order never scheduled leaves a tombstone and no event", func(t *testing.T) {
			if sh, err := s.client.Cancel(ctx, "o-ev3"); err != nil || sh.Status != shipping.Voided {
				t.Fatalf("cancel = %+v, %v; want VOIDED", sh, err)
			}
			if _, err := s.client.Cancel(ctx, "o-ev3"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Schedule(ctx, request("o-ev3", "US", "12345")); !errors.Is(err, shipping.ErrCompensated) {
				t.Fatalf("late schedule: err = %v, want ErrCompensated", err)
			}
			outboxtest.Want(t, s.db, "shipping", "o-ev3")
		})
		outboxtest.Count(t, s.db)
	})
}

func TestEventsOfConcurrentCalls(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		const n = 10
		for _, call := range []func() error{
			func() error { _, err := s.client.Schedule(ctx, request("o-cc", "DE", "10115")); return err },
			func() error { _, err := s.client.Cancel(ctx, "o-cc"); return err },
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
		outboxtest.Want(t, s.db, "shipping", "o-cc", shipping.EventShipmentScheduled, shipping.EventShipmentCancelled)
	})
}

func TestNoEventWithoutItsChange(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		if _, err := s.client.Schedule(ctx, request("o-rb2", "US", "12345")); err != nil {
			t.Fatal(err)
		}
		failing := outboxtest.FailWrites(t, s.db)
		failing.Store(true)

		// The event's failure rolls the change back with it, and the event's row too.
		if _, err := s.client.Schedule(ctx, request("o-rb1", "US", "12345")); err == nil {
			t.Fatal("schedule succeeded while its event could not be written")
		}
		if s.rows(t, "o-rb1") != 0 {
			t.Error("the failed schedule left a shipment")
		}
		if _, err := s.client.Cancel(ctx, "o-rb2"); err == nil {
			t.Fatal("cancel succeeded while its event could not be written")
		}
		if sh := s.shipment(t, "o-rb2"); sh.Status != shipping.Scheduled {
			t.Errorf("shipment after the failed cancel = %+v, want SCHEDULED", sh)
		}
		outboxtest.Want(t, s.db, "shipping", "o-rb1")
		outboxtest.Want(t, s.db, "shipping", "o-rb2", shipping.EventShipmentScheduled)

		failing.Store(false)
		if _, err := s.client.Schedule(ctx, request("o-rb1", "US", "12345")); err != nil {
			t.Fatal(err)
		}
		outboxtest.Want(t, s.db, "shipping", "o-rb1", shipping.EventShipmentScheduled)
	})
}
