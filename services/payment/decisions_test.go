package payment

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/httpx"
)

func TestDecideCharge(t *testing.T) {
	req := ChargeRequest{OrderID: "o-1", CustomerID: "c-1", AmountCents: 500, Currency: "USD", PaymentMethod: MethodVisa}
	stored := func(st Status, mod ...func(*Payment)) Payment {
		p := Payment{OrderID: "o-1", CustomerID: "c-1", AmountCents: 500, Currency: "USD", PaymentMethod: MethodVisa, Status: st}
		for _, m := range mod {
			m(&p)
		}
		return p
	}
	cases := []struct {
		name    string
		p       Payment
		attempt bool
		err     error
	}{
		{"a pending payment takes an attempt", stored(Pending), true, nil},
		{"a charged payment is answered as it is", stored(Charged), false, nil},
		{"a declined payment is answered with its decline", stored(Declined, func(p *Payment) { p.DeclineCode = DeclineInsufficientFunds }), false, ErrInsufficientFunds},
		{"a refunded payment refuses a late charge", stored(Refunded), false, ErrCompensated},
		{"a voided tombstone refuses a late charge", Payment{OrderID: "o-1", Status: Voided}, false, ErrCompensated},
		{"another amount is a conflict", stored(Pending, func(p *Payment) { p.AmountCents = 600 }), false, ErrConflict},
		{"another customer is a conflict", stored(Charged, func(p *Payment) { p.CustomerID = "c-2" }), false, ErrConflict},
		{"another method is a conflict", stored(Pending, func(p *Payment) { p.PaymentMethod = MethodFlaky }), false, ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			attempt, err := decideCharge(tc.p, req)
			if attempt != tc.attempt || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("decideCharge = %v, %v; want %v, %v", attempt, err, tc.attempt, tc.err)
			}
		})
	}
}

func TestAttemptCharge(t *testing.T) {
	pending := func(method string, attempts int) Payment {
		return Payment{OrderID: "o-1", CustomerID: "c-1", AmountCents: 500, Currency: "USD", PaymentMethod: method,
			Status: Pending, Attempts: attempts}
	}
	cases := []struct {
		name    string
		p       Payment
		balance int64
		status  Status
		decline string
		err     error
	}{
		{"the visa card is charged when the balance covers the amount", pending(MethodVisa, 1), 500, Charged, "", nil},
		{"the visa card is declined for insufficient funds", pending(MethodVisa, 1), 499, Declined, DeclineInsufficientFunds, ErrInsufficientFunds},
		{"the declined card is declined whatever the balance", pending(MethodDeclined, 1), 1_000_000, Declined, DeclinePaymentDeclined, ErrPaymentDeclined},
		{"an unknown method is declined", pending("pm_card_unknown", 1), 1_000_000, Declined, DeclinePaymentDeclined, ErrPaymentDeclined},
		{"the flaky card fails its first attempt, retryably", pending(MethodFlaky, 1), 1000, Pending, "", httpx.ErrUnavailable},
		{"the flaky card fails its second attempt, retryably", pending(MethodFlaky, 2), 1000, Pending, "", httpx.ErrUnavailable},
		{"the flaky card is charged on its third attempt", pending(MethodFlaky, 3), 1000, Charged, "", nil},
		{"the flaky card's third attempt is still checked for funds", pending(MethodFlaky, 3), 10, Declined, DeclineInsufficientFunds, ErrInsufficientFunds},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := attemptCharge(tc.p, tc.balance)
			if a.Status != tc.status || a.DeclineCode != tc.decline || !errors.Is(a.Err, tc.err) || (tc.err == nil) != (a.Err == nil) {
				t.Errorf("attemptCharge = %+v; want %s %q %v", a, tc.status, tc.decline, tc.err)
			}
		})
	}
}

func TestDecideRefund(t *testing.T) {
	cases := []struct {
		from   Status
		to     Status
		credit bool
	}{
		{Charged, Refunded, true},
		{Pending, Voided, false},
		{Declined, Declined, false},
		{Refunded, Refunded, false},
		{Voided, Voided, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.from)+" becomes "+string(tc.to), func(t *testing.T) {
			to, credit := decideRefund(Payment{Status: tc.from, AmountCents: 500})
			if to != tc.to || credit != tc.credit {
				t.Errorf("decideRefund(%s) = %s, %v; want %s, %v", tc.from, to, credit, tc.to, tc.credit)
			}
			if to == Charged || to == Pending {
				t.Errorf("a refund must never leave a payment %s", to)
			}
		})
	}
}

func TestDiscountCents(t *testing.T) {
	percent := func(v int64) Coupon { return Coupon{Kind: CouponPercent, Value: v} }
	fixed := func(v int64) Coupon { return Coupon{Kind: CouponFixed, Value: v} }
	cases := []struct {
		name     string
		c        Coupon
		subtotal int64
		want     int64
	}{
		{"10% of $30.00", percent(10), 3000, 300},
		{"10% rounds down", percent(10), 3009, 300},
		{"15% of 199 cents rounds down", percent(15), 199, 29},
		{"1% of 99 cents is nothing", percent(1), 99, 0},
		{"100% is the whole subtotal", percent(100), 4321, 4321},
		{"a percentage over 100 never takes more than the subtotal", percent(150), 1000, 1000},
		{"a percentage of a huge subtotal does not overflow", percent(50), math.MaxInt64, 4611686018427387903},
		{"a fixed amount below the subtotal", fixed(500), 2000, 500},
		{"a fixed amount over the subtotal is cut to it", fixed(500), 300, 300},
		{"a fixed amount equal to the subtotal", fixed(500), 500, 500},
		{"nothing off a zero subtotal", fixed(500), 0, 0},
		{"a negative value takes nothing", fixed(-5), 1000, 0},
		{"a negative subtotal takes nothing", percent(10), -1000, 0},
		{"an unknown kind takes nothing", Coupon{Kind: "BOGO", Value: 10}, 1000, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := discountCents(tc.c, tc.subtotal)
			if got != tc.want {
				t.Errorf("discountCents(%s %d, %d) = %d, want %d", tc.c.Kind, tc.c.Value, tc.subtotal, got, tc.want)
			}
			if got < 0 || (tc.subtotal >= 0 && got > tc.subtotal) {
				t.Errorf("discount %d is outside [0, %d]", got, tc.subtotal)
			}
		})
	}
}

func TestCheckCoupon(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	req := RedeemRequest{OrderID: "o-1", CustomerID: "c-1", Code: "SAVE5", SubtotalCents: 1999, Currency: "USD"}
	coupon := func(mod ...func(*Coupon)) *Coupon {
		c := &Coupon{CustomerID: "c-1", Code: "SAVE5", Kind: CouponFixed, Value: 500, MinTotalCents: 1000, Status: CouponAvailable}
		for _, m := range mod {
			m(c)
		}
		return c
	}
	expired := func(c *Coupon) { c.ExpiresAt = &past }
	redeemed := func(c *Coupon) { c.Status, c.OrderID = CouponRedeemed, "o-other" }
	aboveSubtotal := func(c *Coupon) { c.MinTotalCents = 2000 }
	cases := []struct {
		name      string
		owned     *Coupon
		elsewhere bool
		err       error
	}{
		{"an available coupon within its terms is redeemable", coupon(), false, nil},
		{"a subtotal equal to the minimum is enough", coupon(func(c *Coupon) { c.MinTotalCents = 1999 }), true, nil},
		{"a coupon expiring later is redeemable", coupon(func(c *Coupon) { c.ExpiresAt = &future }), false, nil},
		{"a coupon expiring right now is still redeemable", coupon(func(c *Coupon) { c.ExpiresAt = &now }), false, nil},
		{"a code nobody has is unknown", nil, false, ErrCouponUnknown},
		{"a code only another customer has is not applicable", nil, true, ErrCouponNotApplicable},
		{"an expired coupon is expired", coupon(expired), false, ErrCouponExpired},
		{"a coupon held by another order is already redeemed", coupon(redeemed), false, ErrCouponAlreadyRedeemed},
		{"a subtotal below the minimum is not applicable", coupon(aboveSubtotal), false, ErrCouponNotApplicable},
		// The order of the checks, when several refuse.
		{"expired comes before already redeemed", coupon(expired, redeemed), false, ErrCouponExpired},
		{"expired comes before the minimum", coupon(expired, aboveSubtotal), false, ErrCouponExpired},
		{"already redeemed comes before the minimum", coupon(redeemed, aboveSubtotal), false, ErrCouponAlreadyRedeemed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkCoupon(tc.owned, tc.elsewhere, req, now)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("checkCoupon = %v, want %v", err, tc.err)
			}
			for _, other := range []error{ErrCouponUnknown, ErrCouponNotApplicable, ErrCouponExpired, ErrCouponAlreadyRedeemed} {
				if other != tc.err && errors.Is(err, other) {
					t.Errorf("checkCoupon = %v, which is also %v", err, other)
				}
			}
		})
	}
}

func TestDecideRedeem(t *testing.T) {
	req := RedeemRequest{OrderID: "o-1", CustomerID: "c-1", Code: "WELCOME10", SubtotalCents: 3000, Currency: "USD"}
	stored := func(st RedemptionStatus, mod ...func(*Redemption)) Redemption {
		r := Redemption{OrderID: "o-1", CustomerID: "c-1", Code: "WELCOME10", Status: st, DiscountCents: 300}
		for _, m := range mod {
			m(&r)
		}
		return r
	}
	cases := []struct {
		name     string
		r        Redemption
		subtotal int64
		err      error
	}{
		{"the same request is answered with the redemption", stored(RedemptionRedeemed), 3000, nil},
		{"another subtotal is a conflict", stored(RedemptionRedeemed), 3100, ErrConflict},
		{"another code is a conflict", stored(RedemptionRedeemed, func(r *Redemption) { r.Code = "SAVE5" }), 3000, ErrConflict},
		{"another customer is a conflict", stored(RedemptionRedeemed, func(r *Redemption) { r.CustomerID = "c-2" }), 3000, ErrConflict},
		{"a restored redemption refuses a late redeem", stored(RedemptionRestored), 3000, ErrCompensated},
		{"a restored redemption refuses a different one as compensated too", stored(RedemptionRestored), 1, ErrCompensated},
		{"a voided tombstone refuses a late redeem", Redemption{OrderID: "o-1", Status: RedemptionVoided}, 0, ErrCompensated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := decideRedeem(tc.r, tc.subtotal, req)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("decideRedeem = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestDecideRestore(t *testing.T) {
	cases := []struct {
		from     RedemptionStatus
		to       RedemptionStatus
		giveBack bool
	}{
		{RedemptionRedeemed, RedemptionRestored, true},
		{RedemptionRestored, RedemptionRestored, false},
		{RedemptionVoided, RedemptionVoided, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.from)+" becomes "+string(tc.to), func(t *testing.T) {
			to, giveBack := decideRestore(Redemption{Status: tc.from})
			if to != tc.to || giveBack != tc.giveBack {
				t.Errorf("decideRestore(%s) = %s, %v; want %s, %v", tc.from, to, giveBack, tc.to, tc.giveBack)
			}
		})
	}
}
