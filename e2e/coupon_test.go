package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/payment"
)

// TestCoupons: an order's coupon is redeemed by the saga (RedeemCoupon, after the
// reservation) and restored when a later step fails or the order is cancelled; refused
// coupons reject the order with their type and change nothing else; of concurrent orders
// with one coupon exactly one redeems it.
func TestCoupons(t *testing.T) { each(t, coupons) }

func coupons(t *testing.T, s *stack) {
	ctx := context.Background()
	final := func(v app.OrderView) bool { return v.Status.Final() }
	withCoupon := func(req app.PlaceRequest, code string) app.PlaceRequest {
		req.CouponCode = code
		return req
	}
	give := func(t *testing.T, cust, code string, u payment.CouponUpdate) {
		t.Helper()
		if _, err := s.payments.UpsertCoupon(ctx, cust, code, u); err != nil {
			t.Fatal(err)
		}
	}
	coupon := func(t *testing.T, cust, code string) payment.Coupon {
		t.Helper()
		list, err := s.payments.Coupons(ctx, cust)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			if c.Code == code {
				return c
			}
		}
		t.Fatalf("%s has no coupon %s: %+v", cust, code, list)
		return payment.Coupon{}
	}
	tenPercent := payment.CouponUpdate{Kind: payment.CouponPercent, Value: 10}

	t.Run("the demo customers have their coupons", func(t *testing.T) {
		for _, want := range []struct {
			cust, code string
			kind       payment.CouponKind
		}{{"cust-1", "WELCOME10", payment.CouponPercent}, {"cust-1", "SAVE5", payment.CouponFixed}, {"cust-1", "OLD15", payment.CouponPercent}, {"cust-2", "WELCOME10", payment.CouponPercent}} {
			if c := coupon(t, want.cust, want.code); c.Kind != want.kind {
				t.Errorf("%s's %s = %+v, want a %s coupon", want.cust, want.code, c, want.kind)
			}
		}
	})

	t.Run("a discounted order completes and its coupon is REDEEMED", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		give(t, cust, "WELCOME10", tenPercent)
		v := s.place(t, withCoupon(orderRequest(cust, "pm_card_visa", "US", "SKU-BOOK:2"), "WELCOME10"))
		s.note("coupon-redeemed", v.OrderID)
		if v.Status != saga.StatusCompleted || v.SubtotalCents != 3000 || v.DiscountCents != 300 || v.TotalCents != 2700 {
			t.Fatalf("order = %s, subtotal %d, discount %d, total %d; want COMPLETED, 3000 - 300 = 2700",
				v.Status, v.SubtotalCents, v.DiscountCents, v.TotalCents)
		}
		if got := stepStatus(v, saga.StepRedeemCoupon); got != saga.StepCompleted {
			t.Errorf("RedeemCoupon = %s, want COMPLETED", got)
		}
		if b := s.balance(t, cust); b != 100000-2700 {
			t.Errorf("balance = %d, want the discounted total charged: %d", b, 100000-2700)
		}
		if c := coupon(t, cust, "WELCOME10"); c.Status != payment.CouponRedeemed || c.OrderID != v.OrderID {
			t.Errorf("coupon = %+v, want REDEEMED by %s", c, v.OrderID)
		}
		if got := s.get(t, v.OrderID); got.TotalCents != 2700 || got.DiscountCents != 300 {
			t.Errorf("the read model shows total %d, discount %d; want 2700, 300", got.TotalCents, got.DiscountCents)
		}
	})

	t.Run("an order without a coupon skips RedeemCoupon", func(t *testing.T) {
		v := s.place(t, orderRequest(s.newCustomer(t, 100000), "pm_card_visa", "US", "SKU-MUG:1"))
		if got := stepStatus(v, saga.StepRedeemCoupon); got != saga.StepSkipped || v.DiscountCents != 0 || v.SubtotalCents != v.TotalCents {
			t.Errorf("RedeemCoupon = %s, discount %d, subtotal %d, total %d; want SKIPPED and no discount", got, v.DiscountCents, v.SubtotalCents, v.TotalCents)
		}
	})

	// A failure after RedeemCoupon gives the coupon back.
	restored := func(t *testing.T, cust string, v app.OrderView) {
		t.Helper()
		if c := coupon(t, cust, "WELCOME10"); c.Status != payment.CouponAvailable || c.OrderID != "" {
			t.Errorf("coupon = %+v, want AVAILABLE again", c)
		}
		if r, err := s.payments.Redemption(ctx, v.OrderID); err != nil || r.Status != payment.RedemptionRestored {
			t.Errorf("redemption = %+v, %v; want RESTORED", r, err)
		}
		if got := stepStatus(v, saga.StepRedeemCoupon); got != saga.StepCompensated {
			t.Errorf("RedeemCoupon = %s, want COMPENSATED", got)
		}
		if b := s.balance(t, cust); b != 100000 {
			t.Errorf("balance = %d, want 100000", b)
		}
	}
	t.Run("a declined card restores the coupon", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		give(t, cust, "WELCOME10", tenPercent)
		v := s.place(t, withCoupon(orderRequest(cust, "pm_card_declined", "US", "SKU-BOOK:1"), "WELCOME10"))
		wantRejected(t, v, saga.StepChargePayment, saga.PaymentDeclined)
		restored(t, cust, v)
	})
	t.Run("an unserved country restores the coupon", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		give(t, cust, "WELCOME10", tenPercent)
		v := s.place(t, withCoupon(orderRequest(cust, "pm_card_visa", "XX", "SKU-BOOK:1"), "WELCOME10"))
		s.note("coupon-restored", v.OrderID)
		wantRejected(t, v, saga.StepScheduleShipping, saga.ShippingUnavailable)
		restored(t, cust, v)
	})
	t.Run("a cancel during the charge restores the coupon", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		give(t, cust, "WELCOME10", tenPercent)
		injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 2000, Operations: []string{"charge"}})
		id := s.placeNoWait(t, withCoupon(orderRequest(cust, "pm_card_visa", "US", "SKU-BOOK:1"), "WELCOME10"))
		s.await(t, id, 10*time.Second, "ChargePayment running", func(v app.OrderView) bool {
			return stepStatus(v, saga.StepChargePayment) == saga.StepRunning
		})
		if r := s.call(t, http.MethodPost, "/v1/orders/"+id+"/cancel", nil); r.status != http.StatusAccepted {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		v := s.await(t, id, 20*time.Second, "CANCELLED", final)
		if v.Status != saga.StatusCancelled {
			t.Fatalf("order = %s %+v, want CANCELLED", v.Status, v.Failure)
		}
		// The slow charge lands before or after its refund; once it has, all is whole.
		deadline := time.Now().Add(10 * time.Second)
		for s.balance(t, cust) != 100000 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		restored(t, cust, v)
	})

	t.Run("refused coupons reject the order with their type, and nothing else changes", func(t *testing.T) {
		past := time.Now().Add(-time.Hour).UTC()
		cases := []struct {
			name, code, want string
			setup            func(t *testing.T, cust string)
		}{
			{"unknown", "NO-SUCH-COUPON", saga.CouponUnknown, func(*testing.T, string) {}},
			{"expired", "OLD15", saga.CouponExpired, func(t *testing.T, cust string) {
				give(t, cust, "OLD15", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 15, ExpiresAt: &past})
			}},
			{"already redeemed", "WELCOME10", saga.CouponAlreadyRedeemed, func(t *testing.T, cust string) {
				give(t, cust, "WELCOME10", tenPercent)
				if v := s.place(t, withCoupon(orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:1"), "WELCOME10")); v.Status != saga.StatusCompleted {
					t.Fatalf("the first order with the coupon is %s %+v", v.Status, v.Failure)
				}
			}},
			{"minimum not met", "SAVE5", saga.CouponNotApplicable, func(t *testing.T, cust string) {
				give(t, cust, "SAVE5", payment.CouponUpdate{Kind: payment.CouponFixed, Value: 500, MinTotalCents: 100000})
			}},
			{"another customer's", "THEIRS", saga.CouponNotApplicable, func(t *testing.T, cust string) {
				give(t, s.newCustomer(t, 1000), "THEIRS", tenPercent)
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				cust := s.newCustomer(t, 100000)
				sku := s.newProduct(t, 1500, 5)
				tc.setup(t, cust)
				balance := s.balance(t, cust)
				var before []payment.Coupon
				if list, err := s.payments.Coupons(ctx, cust); err == nil {
					before = list
				}
				v := s.place(t, withCoupon(orderRequest(cust, "pm_card_visa", "US", sku+":2"), tc.code))
				wantRejected(t, v, saga.StepRedeemCoupon, tc.want)
				if got := stepStatus(v, saga.StepRedeemCoupon); got != saga.StepFailed {
					t.Errorf("RedeemCoupon = %s, want FAILED (refused, nothing to restore)", got)
				}
				if b := s.balance(t, cust); b != balance {
					t.Errorf("balance = %d, want %d", b, balance)
				}
				if p := s.product(t, sku); p.Available != 5 || p.Reserved != 0 {
					t.Errorf("%s = %+v, want the stock back", sku, p)
				}
				after, err := s.payments.Coupons(ctx, cust)
				if err != nil {
					t.Fatal(err)
				}
				if a, b := mustJSON(t, before), mustJSON(t, after); a != b {
					t.Errorf("the customer's coupons went from %s to %s", a, b)
				}
			})
		}
	})

	t.Run("of 20 concurrent orders with one coupon, exactly one redeems it", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		sku := s.newProduct(t, 1000, 20)
		give(t, cust, "ONCE", payment.CouponUpdate{Kind: payment.CouponFixed, Value: 250})
		const n = 20
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r, err := s.try(http.MethodPost, "/v1/orders", withCoupon(orderRequest(cust, "pm_card_visa", "US", sku+":1"), "ONCE"))
				if err == nil && r.status != http.StatusAccepted {
					err = fmt.Errorf("%d %s", r.status, r.body)
				}
				if err == nil {
					var v app.OrderView
					err = json.Unmarshal(r.body, &v)
					ids[i] = v.OrderID
				}
				errs[i] = err
			})
		}
		wg.Wait()
		completed := ""
		for i, id := range ids {
			if errs[i] != nil {
				t.Fatalf("order %d: %v", i, errs[i])
			}
			v := s.await(t, id, 30*time.Second, "the end", final)
			switch {
			case v.Status == saga.StatusCompleted && completed == "":
				completed = id
			case v.Status == saga.StatusRejected && v.Failure != nil && v.Failure.Type == saga.CouponAlreadyRedeemed:
			default:
				t.Errorf("order %s = %s %+v; want one COMPLETED and the rest REJECTED CouponAlreadyRedeemed", id, v.Status, v.Failure)
			}
		}
		if completed == "" {
			t.Fatal("no order redeemed the coupon")
		}
		if c := coupon(t, cust, "ONCE"); c.Status != payment.CouponRedeemed || c.OrderID != completed {
			t.Errorf("coupon = %+v, want REDEEMED by %s", c, completed)
		}
		if b := s.balance(t, cust); b != 100000-(1000-250) {
			t.Errorf("balance = %d, want one discounted order charged: %d", b, 100000-750)
		}
		if p := s.product(t, sku); p.Available != 19 || p.Reserved != 1 {
			t.Errorf("%s = %+v, want one unit sold", sku, p)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
