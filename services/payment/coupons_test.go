package payment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/services/payment"
)

// redeem is a redeem request in USD.
func redeem(orderID, customerID, code string, subtotalCents int64) payment.RedeemRequest {
	return payment.RedeemRequest{OrderID: orderID, CustomerID: customerID, Code: code,
		SubtotalCents: subtotalCents, Currency: "USD"}
}

// coupon returns a customer's coupon with code, failing t when there is none.
func (s service) coupon(t *testing.T, customerID, code string) payment.Coupon {
	t.Helper()
	list, err := s.client.Coupons(context.Background(), customerID)
	if err != nil {
		t.Fatalf("coupons of %s: %v", customerID, err)
	}
	for _, c := range list {
		if c.Code == code {
			return c
		}
	}
	t.Fatalf("%s has no coupon %s: %+v", customerID, code, list)
	return payment.Coupon{}
}

// coupons returns a customer's coupons as JSON, to compare before and after.
func (s service) coupons(t *testing.T, customerID string) string {
	t.Helper()
	list, err := s.client.Coupons(context.Background(), customerID)
	if err != nil {
		t.Fatalf("coupons of %s: %v", customerID, err)
	}
	b, _ := json.Marshal(list)
	return string(b)
}

func (s service) giveCoupon(t *testing.T, customerID, code string, u payment.CouponUpdate) payment.Coupon {
	t.Helper()
	c, err := s.client.UpsertCoupon(context.Background(), customerID, code, u)
	if err != nil {
		t.Fatalf("give %s coupon %s: %v", customerID, code, err)
	}
	return c
}

// wantAvailable fails t unless the customer's coupon is AVAILABLE, held by no order.
func (s service) wantAvailable(t *testing.T, customerID, code string) {
	t.Helper()
	if c := s.coupon(t, customerID, code); c.Status != payment.CouponAvailable || c.OrderID != "" || c.RedeemedAt != nil {
		t.Errorf("%s's %s = %+v, want AVAILABLE", customerID, code, c)
	}
}

// wantHeldBy fails t unless the customer's coupon is REDEEMED by orderID.
func (s service) wantHeldBy(t *testing.T, customerID, code, orderID string) {
	t.Helper()
	if c := s.coupon(t, customerID, code); c.Status != payment.CouponRedeemed || c.OrderID != orderID || c.RedeemedAt == nil {
		t.Errorf("%s's %s = %+v, want REDEEMED by %s", customerID, code, c, orderID)
	}
}

// wantNoRedemption fails t when the order has a redemption.
func (s service) wantNoRedemption(t *testing.T, orderID string) {
	t.Helper()
	if r, err := s.client.Redemption(context.Background(), orderID); !errors.Is(err, payment.ErrNotFound) {
		t.Errorf("redemption of %s = %+v, %v; want ErrNotFound", orderID, r, err)
	}
}

func TestSeedCoupons(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		for _, cust := range []string{"cust-1", "cust-2"} {
			var want []payment.Coupon
			for _, c := range payment.SeedCoupons {
				if c.CustomerID == cust {
					want = append(want, c)
				}
			}
			got, err := s.client.Coupons(ctx, cust)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s has %d coupons %+v, want %d", cust, len(got), got, len(want))
			}
			for i, c := range got {
				if i > 0 && got[i-1].Code >= c.Code {
					t.Errorf("%s's coupons are not sorted by code: %s before %s", cust, got[i-1].Code, c.Code)
				}
				var w payment.Coupon
				for _, sc := range want {
					if sc.Code == c.Code {
						w = sc
					}
				}
				if c.Code != w.Code || c.Kind != w.Kind || c.Value != w.Value || c.MinTotalCents != w.MinTotalCents ||
					c.Status != payment.CouponAvailable || c.OrderID != "" || (c.ExpiresAt == nil) != (w.ExpiresAt == nil) ||
					(c.ExpiresAt != nil && !c.ExpiresAt.Equal(*w.ExpiresAt)) {
					t.Errorf("%s's coupon = %+v, want %+v", cust, c, w)
				}
			}
		}
		if c := s.coupon(t, "cust-1", "OLD15"); c.ExpiresAt == nil || !c.ExpiresAt.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("OLD15 = %+v, want expired at 2020-01-01T00:00:00Z", c)
		}
		t.Run("seeding again on restart leaves redemptions and terms as they are", func(t *testing.T) {
			if _, err := s.client.RedeemCoupon(ctx, redeem("o-seed", "cust-1", "WELCOME10", 3000)); err != nil {
				t.Fatal(err)
			}
			s.giveCoupon(t, "cust-1", "SAVE5", payment.CouponUpdate{Kind: payment.CouponFixed, Value: 700})
			again := start(t, cfg) // a second process on the same database
			again.wantHeldBy(t, "cust-1", "WELCOME10", "o-seed")
			if c := again.coupon(t, "cust-1", "SAVE5"); c.Value != 700 || c.MinTotalCents != 0 {
				t.Errorf("after restart SAVE5 = %+v, want the new terms (700, no minimum)", c)
			}
		})
	})
}

func TestRedeemCoupon(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		req := redeem("o-1", "cust-1", "WELCOME10", 3000)

		t.Run("redeeming takes 10% off and the coupon becomes REDEEMED by the order", func(t *testing.T) {
			r, err := s.client.RedeemCoupon(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if r.OrderID != "o-1" || r.CustomerID != "cust-1" || r.Code != "WELCOME10" || r.Status != payment.RedemptionRedeemed ||
				r.DiscountCents != 300 || r.CreatedAt.IsZero() {
				t.Fatalf("redemption = %+v, want WELCOME10 REDEEMED with 300 off", r)
			}
			s.wantHeldBy(t, "cust-1", "WELCOME10", "o-1")
			s.wantAvailable(t, "cust-2", "WELCOME10") // the same code, another customer's coupon
		})
		t.Run("redeeming again with the same request returns the first redemption", func(t *testing.T) {
			first, err := s.client.Redemption(ctx, "o-1")
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				again, err := s.client.RedeemCoupon(ctx, req)
				if err != nil {
					t.Fatalf("replay #%d: %v", i+1, err)
				}
				if again != first {
					t.Errorf("replay #%d = %+v, want the first redemption %+v", i+1, again, first)
				}
			}
			s.wantHeldBy(t, "cust-1", "WELCOME10", "o-1")
		})
		t.Run("redeeming for the same order with another subtotal, code or customer is a conflict", func(t *testing.T) {
			before1, before2 := s.coupons(t, "cust-1"), s.coupons(t, "cust-2")
			for _, other := range []payment.RedeemRequest{
				redeem("o-1", "cust-1", "WELCOME10", 3100),
				redeem("o-1", "cust-1", "SAVE5", 3000),
				redeem("o-1", "cust-2", "WELCOME10", 3000),
			} {
				if _, err := s.client.RedeemCoupon(ctx, other); !errors.Is(err, payment.ErrConflict) {
					t.Errorf("redeem %+v: err = %v, want ErrConflict", other, err)
				}
			}
			if after1, after2 := s.coupons(t, "cust-1"), s.coupons(t, "cust-2"); after1 != before1 || after2 != before2 {
				t.Errorf("a conflict changed the coupons:\n%s\n%s", after1, after2)
			}
			if r, err := s.client.Redemption(ctx, "o-1"); err != nil || r.DiscountCents != 300 || r.Code != "WELCOME10" {
				t.Errorf("redemption = %+v, %v; want unchanged", r, err)
			}
		})
		t.Run("a fixed coupon takes its value off a subtotal that meets its minimum", func(t *testing.T) {
			r, err := s.client.RedeemCoupon(ctx, redeem("o-2", "cust-1", "SAVE5", 2000))
			if err != nil || r.DiscountCents != 500 {
				t.Fatalf("redeem SAVE5 on 2000 = %+v, %v; want 500 off", r, err)
			}
			s.wantHeldBy(t, "cust-1", "SAVE5", "o-2")
		})
		t.Run("a fixed coupon never takes more than the subtotal", func(t *testing.T) {
			s.giveCoupon(t, "cust-2", "BIG", payment.CouponUpdate{Kind: payment.CouponFixed, Value: 5000})
			r, err := s.client.RedeemCoupon(ctx, redeem("o-3", "cust-2", "BIG", 1234))
			if err != nil || r.DiscountCents != 1234 {
				t.Fatalf("redeem BIG on 1234 = %+v, %v; want 1234 off", r, err)
			}
		})
		t.Run("a free order may redeem a coupon, for nothing off", func(t *testing.T) {
			r, err := s.client.RedeemCoupon(ctx, redeem("o-free", "cust-2", "WELCOME10", 0))
			if err != nil || r.DiscountCents != 0 || r.Status != payment.RedemptionRedeemed {
				t.Fatalf("redeem WELCOME10 on 0 = %+v, %v; want REDEEMED, 0 off", r, err)
			}
		})
		t.Run("redeeming changes no balance", func(t *testing.T) {
			for _, c := range payment.SeedCustomers {
				if b := s.balance(t, c.CustomerID); b != c.BalanceCents {
					t.Errorf("%s balance = %d, want %d", c.CustomerID, b, c.BalanceCents)
				}
			}
		})
	})
}

func TestCouponRefusals(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		if _, err := s.client.RedeemCoupon(ctx, redeem("o-first", "cust-2", "WELCOME10", 3000)); err != nil {
			t.Fatal(err)
		}
		// HELD is redeemed, then expires: expired is the answer (see checkCoupon's order).
		s.giveCoupon(t, "cust-2", "HELD", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 20})
		if _, err := s.client.RedeemCoupon(ctx, redeem("o-held", "cust-2", "HELD", 3000)); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-time.Minute)
		s.giveCoupon(t, "cust-2", "HELD", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 20, ExpiresAt: &past})
		future := time.Now().Add(time.Hour)
		s.giveCoupon(t, "cust-2", "LATER", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 5, ExpiresAt: &future})

		cases := []struct {
			name string
			req  payment.RedeemRequest
			err  error
		}{
			{"a code nobody has is unknown", redeem("o-r1", "cust-1", "NOPE", 3000), payment.ErrCouponUnknown},
			{"another customer's code is not applicable", redeem("o-r2", "cust-2", "SAVE5", 3000), payment.ErrCouponNotApplicable},
			{"an unknown customer with someone's code is not applicable", redeem("o-r3", "cust-nope", "WELCOME10", 3000), payment.ErrCouponNotApplicable},
			{"an expired coupon is expired", redeem("o-r4", "cust-1", "OLD15", 3000), payment.ErrCouponExpired},
			{"a coupon redeemed by another order is already redeemed", redeem("o-r5", "cust-2", "WELCOME10", 3000), payment.ErrCouponAlreadyRedeemed},
			{"a subtotal below the minimum is not applicable", redeem("o-r6", "cust-1", "SAVE5", 1999), payment.ErrCouponNotApplicable},
			{"a redeemed coupon that expired is expired", redeem("o-r7", "cust-2", "HELD", 3000), payment.ErrCouponExpired},
		}
		for _, tc := range cases {
			t.Run(tc.name+", and changes nothing", func(t *testing.T) {
				before1, before2 := s.coupons(t, "cust-1"), s.coupons(t, "cust-2")
				for i := range 2 { // the same answer again: a refusal records nothing that would change it
					_, err := s.client.RedeemCoupon(ctx, tc.req)
					if !errors.Is(err, tc.err) {
						t.Fatalf("redeem #%d: err = %v, want %v", i+1, err, tc.err)
					}
				}
				if after1, after2 := s.coupons(t, "cust-1"), s.coupons(t, "cust-2"); after1 != before1 || after2 != before2 {
					t.Errorf("the refusal changed the coupons:\n%s\n%s", after1, after2)
				}
				s.wantNoRedemption(t, tc.req.OrderID)
			})
		}
		t.Run("a coupon expiring later is redeemed", func(t *testing.T) {
			if r, err := s.client.RedeemCoupon(ctx, redeem("o-later", "cust-2", "LATER", 3000)); err != nil || r.DiscountCents != 150 {
				t.Errorf("redeem LATER = %+v, %v; want 150 off", r, err)
			}
		})
		t.Run("an order refused a coupon can still redeem a good one", func(t *testing.T) {
			if r, err := s.client.RedeemCoupon(ctx, redeem("o-r1", "cust-1", "WELCOME10", 3000)); err != nil || r.DiscountCents != 300 {
				t.Errorf("redeem after a refusal = %+v, %v; want 300 off", r, err)
			}
		})
		t.Run("a subtotal that meets the minimum exactly is enough", func(t *testing.T) {
			if r, err := s.client.RedeemCoupon(ctx, redeem("o-r6", "cust-1", "SAVE5", 2000)); err != nil || r.DiscountCents != 500 {
				t.Errorf("redeem SAVE5 on 2000 = %+v, %v; want 500 off", r, err)
			}
		})
	})
}

func TestRestoreCoupon(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		req := redeem("o-1", "cust-1", "WELCOME10", 3000)
		if _, err := s.client.RedeemCoupon(ctx, req); err != nil {
			t.Fatal(err)
		}

		t.Run("restoring gives the coupon back once, however often it is called", func(t *testing.T) {
			for i := range 3 {
				r, err := s.client.RestoreCoupon(ctx, "o-1")
				if err != nil {
					t.Fatalf("restore #%d: %v", i+1, err)
				}
				if r.Status != payment.RedemptionRestored || r.Code != "WELCOME10" || r.CustomerID != "cust-1" || r.DiscountCents != 300 {
					t.Errorf("restore #%d = %+v, want WELCOME10 RESTORED (300 given back)", i+1, r)
				}
			}
			s.wantAvailable(t, "cust-1", "WELCOME10")
		})
		t.Run("a redeem arriving after its restore is refused and takes nothing", func(t *testing.T) {
			if _, err := s.client.RedeemCoupon(ctx, req); !errors.Is(err, payment.ErrCompensated) {
				t.Fatalf("late redeem: err = %v, want ErrCompensated", err)
			}
			s.wantAvailable(t, "cust-1", "WELCOME10")
			if r, err := s.client.Redemption(ctx, "o-1"); err != nil || r.Status != payment.RedemptionRestored {
				t.Errorf("redemption = %+v, %v; want RESTORED", r, err)
			}
		})
		t.Run("the coupon given back can be redeemed by another order", func(t *testing.T) {
			if _, err := s.client.RedeemCoupon(ctx, redeem("o-2", "cust-1", "WELCOME10", 5000)); err != nil {
				t.Fatal(err)
			}
			s.wantHeldBy(t, "cust-1", "WELCOME10", "o-2")
		})
		t.Run("restoring the first order again does not give back the second order's coupon", func(t *testing.T) {
			if r, err := s.client.RestoreCoupon(ctx, "o-1"); err != nil || r.Status != payment.RedemptionRestored {
				t.Fatalf("restore o-1 = %+v, %v; want RESTORED as it was", r, err)
			}
			s.wantHeldBy(t, "cust-1", "WELCOME10", "o-2")
		})
		t.Run("restoring an order that never redeemed leaves a VOIDED tombstone", func(t *testing.T) {
			before := s.coupons(t, "cust-1")
			r, err := s.client.RestoreCoupon(ctx, "o-never")
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != payment.RedemptionVoided || r.OrderID != "o-never" || r.Code != "" || r.DiscountCents != 0 {
				t.Fatalf("tombstone = %+v, want VOIDED with no coupon", r)
			}
			if again, err := s.client.RestoreCoupon(ctx, "o-never"); err != nil || again.Status != payment.RedemptionVoided {
				t.Errorf("second restore = %+v, %v; want the VOIDED tombstone", again, err)
			}
			if after := s.coupons(t, "cust-1"); after != before {
				t.Errorf("the tombstone changed the coupons: %s, was %s", after, before)
			}
		})
		t.Run("a redeem after the tombstone is refused and takes nothing", func(t *testing.T) {
			_, err := s.client.RedeemCoupon(ctx, redeem("o-never", "cust-1", "SAVE5", 3000))
			if !errors.Is(err, payment.ErrCompensated) {
				t.Fatalf("late redeem: err = %v, want ErrCompensated", err)
			}
			s.wantAvailable(t, "cust-1", "SAVE5")
		})
		t.Run("new terms for a redeemed coupon keep it redeemed, and a restore gives it back on them", func(t *testing.T) {
			c := s.giveCoupon(t, "cust-1", "WELCOME10", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 25})
			if c.Status != payment.CouponRedeemed || c.OrderID != "o-2" || c.Value != 25 {
				t.Fatalf("replaced coupon = %+v, want REDEEMED by o-2 with value 25", c)
			}
			if _, err := s.client.RestoreCoupon(ctx, "o-2"); err != nil {
				t.Fatal(err)
			}
			s.wantAvailable(t, "cust-1", "WELCOME10")
			if r, err := s.client.RedeemCoupon(ctx, redeem("o-3", "cust-1", "WELCOME10", 1000)); err != nil || r.DiscountCents != 250 {
				t.Errorf("redeem on the new terms = %+v, %v; want 250 off", r, err)
			}
		})
	})
}

func TestUpsertCoupon(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("a new coupon is AVAILABLE with its terms, its expiry kept in UTC to the microsecond", func(t *testing.T) {
			exp := time.Date(2031, 3, 4, 5, 6, 7, 891234567, time.FixedZone("X", -5*3600))
			c := s.giveCoupon(t, "cust-2", "SPRING-25", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 25,
				MinTotalCents: 1000, ExpiresAt: &exp})
			want := exp.UTC().Truncate(time.Microsecond)
			if c.CustomerID != "cust-2" || c.Code != "SPRING-25" || c.Kind != payment.CouponPercent || c.Value != 25 ||
				c.MinTotalCents != 1000 || c.Status != payment.CouponAvailable || c.ExpiresAt == nil || !c.ExpiresAt.Equal(want) {
				t.Fatalf("coupon = %+v, want AVAILABLE, 25%% off from 1000, expiring %s", c, want)
			}
			if got := s.coupon(t, "cust-2", "SPRING-25"); got.ExpiresAt == nil || !got.ExpiresAt.Equal(want) {
				t.Errorf("read back = %+v, want it expiring %s", got, want)
			}
		})
		t.Run("new terms replace the old ones, and no expiry clears one", func(t *testing.T) {
			c := s.giveCoupon(t, "cust-2", "SPRING-25", payment.CouponUpdate{Kind: payment.CouponFixed, Value: 99})
			if c.Kind != payment.CouponFixed || c.Value != 99 || c.MinTotalCents != 0 || c.ExpiresAt != nil || c.Status != payment.CouponAvailable {
				t.Errorf("coupon = %+v, want AVAILABLE, 99 cents off, no minimum, no expiry", c)
			}
		})
		t.Run("a coupon for a customer that does not exist is refused", func(t *testing.T) {
			_, err := s.client.UpsertCoupon(ctx, "cust-nope", "HELLO", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 5})
			if !errors.Is(err, payment.ErrUnknownCustomer) {
				t.Fatalf("err = %v, want ErrUnknownCustomer", err)
			}
			if list, err := s.client.Coupons(ctx, "cust-nope"); err != nil || len(list) != 0 {
				t.Errorf("coupons of cust-nope = %+v, %v; want none", list, err)
			}
		})
		t.Run("invalid terms are refused", func(t *testing.T) {
			if _, err := s.client.UpsertCoupon(ctx, "cust-2", "HELLO", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 101}); !errors.Is(err, validate.ErrInvalid) {
				t.Errorf("err = %v, want validate.ErrInvalid", err)
			}
		})
	})
}

// startStore is start over a store the test holds, to set its hooks.
func startStore(t *testing.T, cfg database.Config) (service, *payment.Store) {
	t.Helper()
	ctx := context.Background()
	db := servicetest.Open(t, cfg)
	store, err := payment.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := payment.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	inj, _ := faults.New(payment.Operations, faults.Config{})
	srv := httptest.NewServer(payment.NewHandler(store, inj, slog.New(slog.DiscardHandler), httpx.Options{}))
	t.Cleanup(srv.Close)
	return service{url: srv.URL, client: payment.NewClient(srv.URL, nil)}, store
}

func TestCouponConcurrency(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s, store := startStore(t, cfg)
		t.Run("of 20 orders redeeming one coupon at once, exactly one redeems it", func(t *testing.T) {
			s.setBalance(t, "cust-c1", 1000)
			s.giveCoupon(t, "cust-c1", "ONCE", payment.CouponUpdate{Kind: payment.CouponFixed, Value: 250})
			// The first redeem to read the coupon holds there while the others arrive: with
			// the coupon's row lock they queue behind it and then see it REDEEMED; without
			// the lock and the conditional update they would read it AVAILABLE too and
			// several would win (checked by removing both: this test then fails).
			var first sync.Once
			payment.SetRedeemHook(store, func() { first.Do(func() { time.Sleep(300 * time.Millisecond) }) })
			t.Cleanup(func() { payment.SetRedeemHook(store, nil) })
			const n = 20
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, errs[i] = s.client.RedeemCoupon(ctx, redeem(fmt.Sprintf("o-c1-%d", i), "cust-c1", "ONCE", 1000))
				})
			}
			wg.Wait()
			payment.SetRedeemHook(store, nil)
			winner := ""
			for i, err := range errs {
				order := fmt.Sprintf("o-c1-%d", i)
				switch {
				case err == nil && winner == "":
					winner = order
				case errors.Is(err, payment.ErrCouponAlreadyRedeemed):
					s.wantNoRedemption(t, order)
				default:
					t.Errorf("redeem %s: %v; want one success and ErrCouponAlreadyRedeemed for the others", order, err)
				}
			}
			if winner == "" {
				t.Fatal("no order redeemed the coupon")
			}
			s.wantHeldBy(t, "cust-c1", "ONCE", winner)
			if r, err := s.client.Redemption(ctx, winner); err != nil || r.Status != payment.RedemptionRedeemed || r.DiscountCents != 250 {
				t.Errorf("redemption of %s = %+v, %v; want REDEEMED with 250 off", winner, r, err)
			}
		})
		t.Run("20 identical redeems of one order at once redeem once and all answer it", func(t *testing.T) {
			s.setBalance(t, "cust-c2", 1000)
			s.giveCoupon(t, "cust-c2", "SAME", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 10})
			const n = 20
			got := make([]payment.Redemption, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { got[i], errs[i] = s.client.RedeemCoupon(ctx, redeem("o-c2", "cust-c2", "SAME", 1000)) })
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil || got[i] != got[0] || got[i].DiscountCents != 100 {
					t.Errorf("redeem #%d = %+v, %v; want the one redemption %+v with 100 off", i+1, got[i], errs[i], got[0])
				}
			}
			s.wantHeldBy(t, "cust-c2", "SAME", "o-c2")
		})
		t.Run("20 orders redeemed and restored at once, in either order, give every coupon back", func(t *testing.T) {
			s.setBalance(t, "cust-c3", 1000)
			const n = 20
			for i := range n {
				s.giveCoupon(t, "cust-c3", fmt.Sprintf("C3-%d", i), payment.CouponUpdate{Kind: payment.CouponFixed, Value: 100})
			}
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i := range 2 * n {
				order, code := fmt.Sprintf("o-c3-%d", i%n), fmt.Sprintf("C3-%d", i%n)
				wg.Go(func() {
					var err error
					if i < n {
						_, err = s.client.RedeemCoupon(ctx, redeem(order, "cust-c3", code, 1000))
					} else {
						_, err = s.client.RestoreCoupon(ctx, order)
					}
					if err != nil && !errors.Is(err, payment.ErrCompensated) {
						errs <- fmt.Errorf("%s: %w", order, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for i := range n {
				s.wantAvailable(t, "cust-c3", fmt.Sprintf("C3-%d", i))
				r, err := s.client.Redemption(ctx, fmt.Sprintf("o-c3-%d", i))
				if err != nil || (r.Status != payment.RedemptionRestored && r.Status != payment.RedemptionVoided) {
					t.Errorf("redemption o-c3-%d = %+v, %v; want RESTORED or VOIDED", i, r, err)
				}
			}
		})
	})
}

func TestCouponHTTPAnswers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		const body = `{"orderId":"o-h","customerId":"cust-1","code":"WELCOME10","subtotalCents":3000,"currency":"USD"}`

		t.Run("putting a coupon answers 201 when it is new and 200 when it exists", func(t *testing.T) {
			for _, want := range []int{201, 200} {
				resp, data := servicetest.Send(t, "PUT", s.url+"/customers/cust-2/coupons/NEW-1", "application/json", `{"kind":"FIXED","value":250}`)
				if resp.StatusCode != want || string(data) != `{"customerId":"cust-2","code":"NEW-1","kind":"FIXED","value":250,"minTotalCents":0,"status":"AVAILABLE"}` {
					t.Errorf("PUT /customers/cust-2/coupons/NEW-1 = %d %s, want %d", resp.StatusCode, data, want)
				}
			}
		})
		t.Run("a new redeem answers 201 and its replay 200", func(t *testing.T) {
			for _, want := range []int{201, 200} {
				resp, data := servicetest.Send(t, "POST", s.url+"/coupons/redemptions", "application/json", body)
				if resp.StatusCode != want {
					t.Errorf("status = %d, want %d (%s)", resp.StatusCode, want, data)
				}
			}
		})
		t.Run("a redemption shows orderId, customerId, code, status and discountCents", func(t *testing.T) {
			resp, data := servicetest.Send(t, "GET", s.url+"/coupons/redemptions/o-h", "", "")
			var got map[string]any
			if err := json.Unmarshal(data, &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /coupons/redemptions/o-h = %d %s (%v)", resp.StatusCode, data, err)
			}
			want := map[string]any{"orderId": "o-h", "customerId": "cust-1", "code": "WELCOME10", "status": "REDEEMED", "discountCents": 300.0}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range []string{"createdAt", "updatedAt"} {
				if _, ok := got[k]; !ok {
					t.Errorf("%s is missing from %s", k, data)
				}
			}
			if len(got) != len(want)+2 {
				t.Errorf("unexpected fields in %s", data)
			}
		})
		t.Run("a customer's coupons come as a list sorted by code", func(t *testing.T) {
			resp, data := servicetest.Send(t, "GET", s.url+"/customers/cust-1/coupons", "", "")
			var got struct {
				Coupons []map[string]any `json:"coupons"`
			}
			if err := json.Unmarshal(data, &got); err != nil || resp.StatusCode != 200 || len(got.Coupons) != 3 {
				t.Fatalf("GET /customers/cust-1/coupons = %d %s (%v)", resp.StatusCode, data, err)
			}
			for i, code := range []string{"OLD15", "SAVE5", "WELCOME10"} {
				if got.Coupons[i]["code"] != code {
					t.Errorf("coupon %d = %v, want %s", i, got.Coupons[i], code)
				}
			}
			if c := got.Coupons[0]; c["expiresAt"] != "2020-01-01T00:00:00Z" || c["orderId"] != nil || c["redeemedAt"] != nil {
				t.Errorf("OLD15 = %v, want an expiry, no order, no redeemedAt", c)
			}
			if c := got.Coupons[2]; c["status"] != "REDEEMED" || c["orderId"] != "o-h" || c["redeemedAt"] == nil || c["expiresAt"] != nil {
				t.Errorf("WELCOME10 = %v, want REDEEMED by o-h, no expiry", c)
			}
		})
		t.Run("a customer without coupons has an empty list", func(t *testing.T) {
			for _, id := range []string{"cust-rich", "cust-nobody", "-x"} {
				resp, data := servicetest.Send(t, "GET", s.url+"/customers/"+id+"/coupons", "", "")
				if resp.StatusCode != 200 || string(data) != `{"coupons":[]}` {
					t.Errorf("GET /customers/%s/coupons = %d %s, want 200 {\"coupons\":[]}", id, resp.StatusCode, data)
				}
			}
		})
		t.Run("restoring answers 200", func(t *testing.T) {
			resp, data := servicetest.Send(t, "POST", s.url+"/coupons/redemptions/o-h/restore", "", "")
			if resp.StatusCode != 200 || !strings.Contains(string(data), `"status":"RESTORED"`) {
				t.Errorf("restore = %d %s", resp.StatusCode, data)
			}
		})
		if _, err := s.client.RedeemCoupon(context.Background(), redeem("o-h2", "cust-2", "WELCOME10", 3000)); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			req    payment.RedeemRequest
			status int
			code   string
		}{
			{"an unknown code", redeem("o-h3", "cust-1", "NOPE", 3000), 422, "CouponUnknown"},
			{"another customer's code", redeem("o-h3", "cust-2", "SAVE5", 3000), 422, "CouponNotApplicable"},
			{"a subtotal below the minimum", redeem("o-h3", "cust-1", "SAVE5", 100), 422, "CouponNotApplicable"},
			{"an expired coupon", redeem("o-h3", "cust-1", "OLD15", 3000), 422, "CouponExpired"},
			{"a coupon redeemed by another order", redeem("o-h3", "cust-2", "WELCOME10", 3000), 409, "CouponAlreadyRedeemed"},
			{"a redeem after the restore", redeem("o-h", "cust-1", "WELCOME10", 3000), 409, "AlreadyCompensated"},
			{"a replay with another subtotal", redeem("o-h2", "cust-2", "WELCOME10", 3001), 409, "IdempotencyConflict"},
		}
		for _, tc := range cases {
			t.Run(tc.name+" is answered "+fmt.Sprint(tc.status, " ", tc.code), func(t *testing.T) {
				b, _ := json.Marshal(tc.req)
				resp, data := servicetest.Send(t, "POST", s.url+"/coupons/redemptions", "application/json", string(b))
				p := servicetest.DecodeProblem(t, resp, data)
				if resp.StatusCode != tc.status || p.Code != tc.code || p.Status != tc.status {
					t.Errorf("answer %d %+v, want %d %s", resp.StatusCode, p, tc.status, tc.code)
				}
			})
		}
	})
}

func TestCouponBadInput(t *testing.T) {
	const valid = `"orderId":"o-x","customerId":"cust-1","code":"WELCOME10","subtotalCents":3000,"currency":"USD"`
	with := func(field, value string) string {
		var m map[string]json.RawMessage
		_ = json.Unmarshal([]byte("{"+valid+"}"), &m)
		if value == "" {
			delete(m, field)
		} else {
			m[field] = json.RawMessage(value)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
	}{
		{"malformed JSON", "POST", "/coupons/redemptions", "application/json", `{"orderId":`, 400, "MalformedRequest"},
		{"an unknown field", "POST", "/coupons/redemptions", "application/json", with("discount", `1`), 400, "MalformedRequest"},
		{"a string subtotal", "POST", "/coupons/redemptions", "application/json", with("subtotalCents", `"3000"`), 400, "MalformedRequest"},
		{"a missing code", "POST", "/coupons/redemptions", "application/json", with("code", ""), 422, "ValidationFailed"},
		{"a lower-case code", "POST", "/coupons/redemptions", "application/json", with("code", `"welcome10"`), 422, "ValidationFailed"},
		{"a code of 33 characters", "POST", "/coupons/redemptions", "application/json", with("code", `"`+strings.Repeat("A", 33)+`"`), 422, "ValidationFailed"},
		{"a negative subtotal", "POST", "/coupons/redemptions", "application/json", with("subtotalCents", `-1`), 422, "ValidationFailed"},
		{"a subtotal over 10^12 cents", "POST", "/coupons/redemptions", "application/json", with("subtotalCents", `1000000000001`), 422, "ValidationFailed"},
		{"another currency", "POST", "/coupons/redemptions", "application/json", with("currency", `"EUR"`), 422, "ValidationFailed"},
		{"a missing order ID", "POST", "/coupons/redemptions", "application/json", with("orderId", ""), 422, "ValidationFailed"},
		{"an invalid customer ID", "POST", "/coupons/redemptions", "application/json", with("customerId", `"c x"`), 422, "ValidationFailed"},
		{"no content type", "POST", "/coupons/redemptions", "", "{" + valid + "}", 415, "UnsupportedMediaType"},
		{"a restore of an invalid order ID", "POST", "/coupons/redemptions/-x/restore", "", ``, 422, "ValidationFailed"},
		{"an unknown redemption", "GET", "/coupons/redemptions/o-x", "", ``, 404, "NotFound"},
		{"a NUL byte in a redemption's order ID", "GET", "/coupons/redemptions/o%00x", "", ``, 404, "NotFound"},
		{"an unknown coupon kind", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"BOGO","value":1}`, 422, "ValidationFailed"},
		{"a missing kind", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"value":1}`, 422, "ValidationFailed"},
		{"a percentage of 0", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"PERCENT","value":0}`, 422, "ValidationFailed"},
		{"a percentage over 100", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"PERCENT","value":101}`, 422, "ValidationFailed"},
		{"a fixed amount of 0", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"FIXED","value":0}`, 422, "ValidationFailed"},
		{"a fixed amount over 10^12 cents", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"FIXED","value":1000000000001}`, 422, "ValidationFailed"},
		{"a negative minimum", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"FIXED","value":1,"minTotalCents":-1}`, 422, "ValidationFailed"},
		{"an expiry in year 1", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"FIXED","value":1,"expiresAt":"0001-01-01T00:00:00Z"}`, 422, "ValidationFailed"},
		{"an expiry past year 9999 in UTC", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"FIXED","value":1,"expiresAt":"9999-12-31T23:59:59-05:00"}`, 422, "ValidationFailed"},
		{"an expiry that is no time", "PUT", "/customers/cust-1/coupons/NEW", "application/json", `{"kind":"FIXED","value":1,"expiresAt":"soon"}`, 400, "MalformedRequest"},
		{"a lower-case code in the path", "PUT", "/customers/cust-1/coupons/new", "application/json", `{"kind":"FIXED","value":1}`, 422, "ValidationFailed"},
		{"an invalid customer ID in the path", "PUT", "/customers/-x/coupons/NEW", "application/json", `{"kind":"FIXED","value":1}`, 422, "ValidationFailed"},
		{"an unknown customer", "PUT", "/customers/cust-x/coupons/NEW", "application/json", `{"kind":"FIXED","value":1}`, 422, "UnknownCustomer"},
		{"an empty body", "PUT", "/customers/cust-1/coupons/NEW", "application/json", ``, 400, "MalformedRequest"},
		{"a wrong method", "DELETE", "/customers/cust-1/coupons/NEW", "", ``, 405, "MethodNotAllowed"},
	}
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		before := s.coupons(t, "cust-1")
		for _, tc := range cases {
			t.Run(tc.name+" is answered "+fmt.Sprint(tc.status), func(t *testing.T) {
				resp, data := servicetest.Send(t, tc.method, s.url+tc.path, tc.contentType, tc.body)
				p := servicetest.DecodeProblem(t, resp, data)
				if resp.StatusCode != tc.status || p.Code != tc.code || p.Status != tc.status {
					t.Errorf("answer %d %+v, want %d %s", resp.StatusCode, p, tc.status, tc.code)
				}
			})
		}
		if after := s.coupons(t, "cust-1"); after != before {
			t.Errorf("bad requests changed cust-1's coupons to %s, was %s", after, before)
		}
		s.wantNoRedemption(t, "o-x")
		// The request the table mangled is itself valid: it goes through once the input is right.
		var req payment.RedeemRequest
		if err := json.Unmarshal([]byte("{"+valid+"}"), &req); err != nil {
			t.Fatal(err)
		}
		if r, err := s.client.RedeemCoupon(context.Background(), req); err != nil || r.DiscountCents != 300 {
			t.Errorf("the valid request = %+v, %v; want 300 off", r, err)
		}
	})
}

// The coupon writes need the service token as every other write does; reads do not.
func TestCouponWritesNeedTheServiceToken(t *testing.T) {
	ctx := context.Background()
	db := servicetest.Open(t, dbtest.SQLite(t))
	store, err := payment.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := payment.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(payment.NewHandler(store, faults.Off(), slog.New(slog.DiscardHandler), httpx.Options{WriteTokens: []string{"s3cret"}}))
	t.Cleanup(srv.Close)
	writes := []struct{ method, path, body string }{
		{"POST", "/coupons/redemptions", `{"orderId":"o-t","customerId":"cust-1","code":"WELCOME10","subtotalCents":3000,"currency":"USD"}`},
		{"POST", "/coupons/redemptions/o-t2/restore", ``},
		{"PUT", "/customers/cust-1/coupons/WELCOME10", `{"kind":"PERCENT","value":90}`},
	}
	for _, w := range writes {
		for _, tc := range []struct {
			auth   string
			status int
		}{{"", 401}, {"Bearer wrong", 403}} {
			req, _ := http.NewRequest(w.method, srv.URL+w.path, strings.NewReader(w.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s with %q = %d, want %d", w.method, w.path, tc.auth, resp.StatusCode, tc.status)
			}
		}
	}
	anonymous := payment.NewClient(srv.URL, nil)
	list, err := anonymous.Coupons(ctx, "cust-1")
	if err != nil || len(list) != 3 {
		t.Fatalf("coupons without a token = %+v, %v; want the 3 seeded", list, err)
	}
	for _, c := range list {
		if c.Status != payment.CouponAvailable || (c.Code == "WELCOME10" && c.Value != 10) {
			t.Errorf("a refused write changed %+v", c)
		}
	}
	for _, id := range []string{"o-t", "o-t2"} {
		if _, err := anonymous.Redemption(ctx, id); !errors.Is(err, payment.ErrNotFound) {
			t.Errorf("a refused write left a redemption for %s: %v", id, err)
		}
	}
	authed := payment.NewClient(srv.URL, &http.Client{Transport: httpx.BearerTransport(nil, "s3cret")})
	if r, err := authed.RedeemCoupon(ctx, redeem("o-t", "cust-1", "WELCOME10", 3000)); err != nil || r.DiscountCents != 300 {
		t.Errorf("redeem with the token = %+v, %v; want 300 off", r, err)
	}
}

func TestCouponFaultInjection(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		fc := s.client.Faults()
		if _, err := s.client.RedeemCoupon(ctx, redeem("o-f", "cust-1", "WELCOME10", 3000)); err != nil {
			t.Fatal(err)
		}
		t.Run("an error rate of 1 on restore answers 503 and the coupon stays redeemed", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{ErrorRate: 1, Operations: []string{"restore"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.RestoreCoupon(ctx, "o-f"); !isServiceUnavailable(err) {
				t.Fatalf("restore: err = %v, want a 503 ServiceUnavailable", err)
			}
			s.wantHeldBy(t, "cust-1", "WELCOME10", "o-f")
			if _, err := s.client.RestoreCoupon(ctx, "o-f-never"); !isServiceUnavailable(err) {
				t.Errorf("restore of an unknown order: err = %v, want 503", err)
			}
			s.wantNoRedemption(t, "o-f-never")
			if _, err := s.client.RedeemCoupon(ctx, redeem("o-f2", "cust-1", "SAVE5", 3000)); err != nil {
				t.Errorf("redeem is not targeted but failed: %v", err)
			}
		})
		t.Run("an error rate of 1 on redeem answers 503 and redeems nothing", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{ErrorRate: 1, Operations: []string{"redeem"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.RedeemCoupon(ctx, redeem("o-f3", "cust-2", "WELCOME10", 3000)); !isServiceUnavailable(err) {
				t.Fatalf("redeem: err = %v, want a 503 ServiceUnavailable", err)
			}
			s.wantAvailable(t, "cust-2", "WELCOME10")
			s.wantNoRedemption(t, "o-f3")
			if r, err := s.client.RestoreCoupon(ctx, "o-f"); err != nil || r.Status != payment.RedemptionRestored {
				t.Errorf("restore is not targeted: %+v, %v; want RESTORED", r, err)
			}
		})
	})
}
