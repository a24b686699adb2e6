package payment_test

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
	"github.com/ordersaga/ordersaga/services/payment"
)

// startWithOutbox is start, also returning the database whose outbox the test reads.
func startWithOutbox(t *testing.T, cfg database.Config) (service, *gorm.DB) {
	t.Helper()
	db := servicetest.Open(t, cfg)
	url := servicetest.Serve(t, db, payment.Operations, payment.New)
	if err := payment.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return service{url: url, client: payment.NewClient(url, nil)}, db
}

// wantBody fails t unless the event's body, decoded as a T, is want: what a GET answers.
func wantBody[T any](t *testing.T, e outbox.Event, want T) {
	t.Helper()
	var got T
	if err := json.Unmarshal(e.Body, &got); err != nil {
		t.Fatalf("decode the body of %s: %v (%s)", e.Type, err, e.Body)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body of %s = %+v\nwant the GET's %+v", e.Type, got, want)
	}
}

// redemption returns an order's coupon redemption, failing t when it cannot.
func (s service) redemption(t *testing.T, orderID string) payment.Redemption {
	t.Helper()
	r, err := s.client.Redemption(context.Background(), orderID)
	if err != nil {
		t.Fatalf("get redemption %s: %v", orderID, err)
	}
	return r
}

func TestEvents(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, db := startWithOutbox(t, cfg)

		t.Run("redeem, charge, refund, restore write one event each, in order", func(t *testing.T) {
			const id = "o-ev1"
			red, chg := redeem(id, "cust-1", "WELCOME10", 3000), charge(id, "cust-1", 2700, payment.MethodVisa)
			steps := []struct {
				call  func() error
				event string
				body  func(e outbox.Event)
			}{
				{func() error { _, err := s.client.RedeemCoupon(ctx, red); return err },
					payment.EventCouponRedeemed, func(e outbox.Event) { wantBody(t, e, s.redemption(t, id)) }},
				{func() error { _, err := s.client.Charge(ctx, chg); return err },
					payment.EventPaymentCharged, func(e outbox.Event) { wantBody(t, e, s.payment(t, id)) }},
				{func() error { _, err := s.client.Refund(ctx, id); return err },
					payment.EventPaymentRefunded, func(e outbox.Event) { wantBody(t, e, s.payment(t, id)) }},
				{func() error { _, err := s.client.RestoreCoupon(ctx, id); return err },
					payment.EventCouponRestored, func(e outbox.Event) { wantBody(t, e, s.redemption(t, id)) }},
			}
			var want []string
			for _, step := range steps {
				if err := step.call(); err != nil {
					t.Fatalf("%s: %v", step.event, err)
				}
				want = append(want, step.event)
				events := outboxtest.Want(t, db, "payment", id, want...)
				step.body(events[len(events)-1])
				if err := step.call(); err != nil { // a replay
					t.Fatalf("%s again: %v", step.event, err)
				}
				outboxtest.Want(t, db, "payment", id, want...)
			}
			if _, err := s.client.Charge(ctx, chg); !errors.Is(err, payment.ErrCompensated) {
				t.Fatalf("charge after the refund: err = %v, want ErrCompensated", err)
			}
			if _, err := s.client.RedeemCoupon(ctx, red); !errors.Is(err, payment.ErrCompensated) {
				t.Fatalf("redeem after the restore: err = %v, want ErrCompensated", err)
			}
			outboxtest.Want(t, db, "payment", id, want...)
		})
		t.Run("a refused or declined call writes nothing", func(t *testing.T) {
			const id = "o-ev2"
			if _, err := s.client.Charge(ctx, charge(id, "cust-1", 1000, payment.MethodDeclined)); !errors.Is(err, payment.ErrPaymentDeclined) {
				t.Fatalf("charge: err = %v, want ErrPaymentDeclined", err)
			}
			if p := s.payment(t, id); p.Status != payment.Declined {
				t.Fatalf("payment = %+v, want DECLINED", p)
			}
			if _, err := s.client.Charge(ctx, charge(id, "cust-1", 1000, payment.MethodDeclined)); !errors.Is(err, payment.ErrPaymentDeclined) {
				t.Fatalf("charge again: err = %v, want ErrPaymentDeclined", err)
			}
			if _, err := s.client.Charge(ctx, charge(id, "cust-1", 999, payment.MethodVisa)); !errors.Is(err, payment.ErrConflict) {
				t.Fatalf("conflicting charge: err = %v, want ErrConflict", err)
			}
			if p, err := s.client.Refund(ctx, id); err != nil || p.Status != payment.Declined {
				t.Fatalf("refund of a decline = %+v, %v; want it DECLINED", p, err)
			}
			if _, err := s.client.Charge(ctx, charge("o-ev2b", "cust-2", 999999, payment.MethodVisa)); !errors.Is(err, payment.ErrInsufficientFunds) {
				t.Fatalf("charge beyond the balance: err = %v, want ErrInsufficientFunds", err)
			}
			if _, err := s.client.Charge(ctx, charge("o-ev2c", "cust-nobody", 100, payment.MethodVisa)); !errors.Is(err, payment.ErrUnknownCustomer) {
				t.Fatalf("charge of an unknown customer: err = %v, want ErrUnknownCustomer", err)
			}
			if _, err := s.client.RedeemCoupon(ctx, redeem(id, "cust-1", "NOPE", 3000)); !errors.Is(err, payment.ErrCouponUnknown) {
				t.Fatalf("redeem of an unknown coupon: err = %v, want ErrCouponUnknown", err)
			}
			if _, err := s.client.RedeemCoupon(ctx, redeem(id, "cust-1", "OLD15", 3000)); !errors.Is(err, payment.ErrCouponExpired) {
				t.Fatalf("redeem of an expired coupon: err = %v, want ErrCouponExpired", err)
			}
			for _, id := range []string{id, "o-ev2b", "o-ev2c"} {
				outboxtest.Want(t, db, "payment", id)
			}
		})
		t.Run("a refund of an order never charged writes PaymentVoided, once", func(t *testing.T) {
			const id = "o-ev3"
			if _, err := s.client.Refund(ctx, id); err != nil {
				t.Fatal(err)
			}
			wantBody(t, outboxtest.Want(t, db, "payment", id, payment.EventPaymentVoided)[0], s.payment(t, id))
			if _, err := s.client.Refund(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Charge(ctx, charge(id, "cust-1", 1000, payment.MethodVisa)); !errors.Is(err, payment.ErrCompensated) {
				t.Fatalf("late charge: err = %v, want ErrCompensated", err)
			}
			outboxtest.Want(t, db, "payment", id, payment.EventPaymentVoided)
		})
		t.Run("a refund of a charge still pending writes PaymentVoided, and no attempt an event", func(t *testing.T) {
			const id = "o-ev4"
			if _, err := s.client.Charge(ctx, charge(id, "cust-1", 1000, payment.MethodFlaky)); !isServiceUnavailable(err) {
				t.Fatalf("first flaky attempt: err = %v, want a 503", err)
			}
			outboxtest.Want(t, db, "payment", id)
			if p, err := s.client.Refund(ctx, id); err != nil || p.Status != payment.Voided {
				t.Fatalf("refund = %+v, %v; want VOIDED", p, err)
			}
			wantBody(t, outboxtest.Want(t, db, "payment", id, payment.EventPaymentVoided)[0], s.payment(t, id))
		})
		t.Run("a restore of an order that never redeemed leaves a tombstone and no event", func(t *testing.T) {
			const id = "o-ev5"
			if r, err := s.client.RestoreCoupon(ctx, id); err != nil || r.Status != payment.RedemptionVoided {
				t.Fatalf("restore = %+v, %v; want VOIDED", r, err)
			}
			if _, err := s.client.RedeemCoupon(ctx, redeem(id, "cust-1", "SAVE5", 3000)); !errors.Is(err, payment.ErrCompensated) {
				t.Fatalf("late redeem: err = %v, want ErrCompensated", err)
			}
			outboxtest.Want(t, db, "payment", id)
		})
		t.Run("customers' and coupons' writes write no event", func(t *testing.T) {
			before := outboxtest.Count(t, db)
			s.setBalance(t, "cust-1", 5000)
			s.setBalance(t, "cust-new", 100)
			s.giveCoupon(t, "cust-new", "HELLO", payment.CouponUpdate{Kind: payment.CouponFixed, Value: 50})
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
		const id, n = "o-cc", 10
		red, chg := redeem(id, "cust-1", "SAVE5", 3000), charge(id, "cust-1", 2500, payment.MethodVisa)
		for _, call := range []func() error{
			func() error { _, err := s.client.RedeemCoupon(ctx, red); return err },
			func() error { _, err := s.client.Charge(ctx, chg); return err },
			func() error { _, err := s.client.Refund(ctx, id); return err },
			func() error { _, err := s.client.RestoreCoupon(ctx, id); return err },
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
		outboxtest.Want(t, db, "payment", id, payment.EventCouponRedeemed, payment.EventPaymentCharged,
			payment.EventPaymentRefunded, payment.EventCouponRestored)
	})
}

func TestNoEventWithoutItsChange(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, db := startWithOutbox(t, cfg)
		failing := outboxtest.FailWrites(t, db)
		failing.Store(true)

		// The event's failure rolls the change back with it, and the event's row too.
		if _, err := s.client.Charge(ctx, charge("o-rb1", "cust-1", 1000, payment.MethodVisa)); err == nil {
			t.Fatal("charge succeeded while its event could not be written")
		}
		if _, err := s.client.Payment(ctx, "o-rb1"); !errors.Is(err, payment.ErrNotFound) {
			t.Errorf("payment after the failed charge: err = %v, want ErrNotFound", err)
		}
		if b := s.balance(t, "cust-1"); b != 100000 {
			t.Errorf("cust-1 balance = %d, want 100000", b)
		}
		if _, err := s.client.Refund(ctx, "o-rb2"); err == nil {
			t.Fatal("refund succeeded while its event (PaymentVoided) could not be written")
		}
		if _, err := s.client.Payment(ctx, "o-rb2"); !errors.Is(err, payment.ErrNotFound) {
			t.Errorf("payment after the failed refund: err = %v, want ErrNotFound", err)
		}
		if _, err := s.client.RedeemCoupon(ctx, redeem("o-rb3", "cust-1", "WELCOME10", 3000)); err == nil {
			t.Fatal("redeem succeeded while its event could not be written")
		}
		s.wantAvailable(t, "cust-1", "WELCOME10")
		for _, id := range []string{"o-rb1", "o-rb2", "o-rb3"} {
			outboxtest.Want(t, db, "payment", id)
		}

		failing.Store(false)
		if _, err := s.client.Charge(ctx, charge("o-rb1", "cust-1", 1000, payment.MethodVisa)); err != nil {
			t.Fatal(err)
		}
		outboxtest.Want(t, db, "payment", "o-rb1", payment.EventPaymentCharged)
	})
}
