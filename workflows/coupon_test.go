package workflows_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/payment"
)

// couponOrder is testOrder with a coupon, placed under this build's revision.
func couponOrder() saga.OrderInput {
	in := testOrder()
	in.CouponCode = "WELCOME10"
	in.Revision = saga.Revision
	return in
}

func TestCouponIsRedeemedBeforeTheDiscountedCharge(t *testing.T) {
	h := newHarness(t)
	h.run(couponOrder())
	h.wantOutcome("", saga.StatusCompleted)
	st := h.state()
	if st.SubtotalCents != 3000 || st.DiscountCents != 300 || st.TotalCents != 2700 || h.fakes.chargedCents != 2700 {
		t.Errorf("subtotal %d, discount %d, total %d, charged %d; want 3000 - 300 = 2700 charged",
			st.SubtotalCents, st.DiscountCents, st.TotalCents, h.fakes.chargedCents)
	}
	want := []string{"CreateOrder", "ReserveInventory", "RedeemCoupon", "ChargePayment", "ScheduleShipping", "ConfirmOrder"}
	if got := h.fakes.ops(); !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
}

func TestOrderWithoutACouponSkipsRedeemCoupon(t *testing.T) {
	h := newHarness(t)
	in := testOrder()
	in.Revision = saga.Revision
	h.run(in)
	h.wantOutcome("", saga.StatusCompleted)
	if got := h.stepStatus(saga.StepRedeemCoupon); got != saga.StepSkipped || h.fakes.count("RedeemCoupon") != 0 {
		t.Errorf("RedeemCoupon = %s after %d calls, want SKIPPED, never called", got, h.fakes.count("RedeemCoupon"))
	}
}

// An order placed before coupons (an earlier revision) keeps the old path, coupon or not.
func TestOrderOfAnEarlierRevisionNeverRedeems(t *testing.T) {
	h := newHarness(t)
	in := couponOrder()
	in.Revision = 1
	h.run(in)
	h.wantOutcome("", saga.StatusCompleted)
	if n := h.fakes.count("RedeemCoupon"); n != 0 || h.fakes.chargedCents != 3000 {
		t.Errorf("RedeemCoupon called %d times, charged %d; want the revision-1 path: no coupon, 3000", n, h.fakes.chargedCents)
	}
}

func TestRefusedCouponRejectsWithoutRestoring(t *testing.T) {
	for _, refusal := range []error{payment.ErrCouponUnknown, payment.ErrCouponAlreadyRedeemed, payment.ErrCouponExpired, payment.ErrCouponNotApplicable} {
		t.Run(refusal.Error(), func(t *testing.T) {
			h := newHarness(t)
			h.fakes.failNext("RedeemCoupon", fmt.Errorf("redeem: %w", refusal))
			h.run(couponOrder())
			st := h.state()
			if st.Status != saga.StatusRejected || st.Failure == nil || st.Failure.Step != saga.StepRedeemCoupon {
				t.Fatalf("order = %s, failure %+v; want REJECTED at RedeemCoupon", st.Status, st.Failure)
			}
			h.wantCompensations("ReleaseInventory", "CancelOrder")
			if h.fakes.charges != 0 {
				t.Errorf("charged %d times", h.fakes.charges)
			}
		})
	}
}

func TestFailureAfterRedeemRestoresTheCoupon(t *testing.T) {
	h := newHarness(t)
	h.fakes.failNext("ChargePayment", fmt.Errorf("charge: %w", payment.ErrPaymentDeclined))
	h.run(couponOrder())
	h.wantOutcome(saga.PaymentDeclined, saga.StatusRejected)
	h.wantCompensations("RestoreCoupon", "ReleaseInventory", "CancelOrder")
	if got := h.stepStatus(saga.StepRedeemCoupon); got != saga.StepCompensated {
		t.Errorf("RedeemCoupon = %s, want COMPENSATED", got)
	}
}

func TestAmbiguousRedeemIsRestored(t *testing.T) {
	h := newHarness(t)
	h.fakes.failAlways("RedeemCoupon", unavailable("payment service"))
	h.run(couponOrder())
	if st := h.state(); st.Status != saga.StatusRejected {
		t.Fatalf("order = %s, want REJECTED", st.Status)
	}
	h.wantCompensations("RestoreCoupon", "ReleaseInventory", "CancelOrder")
}

// The approval threshold applies to the total after the discount.
func TestApprovalThresholdAppliesToTheDiscountedTotal(t *testing.T) {
	h := newHarness(t)
	in := couponOrder()
	in.Items = []saga.Item{{SKU: "SKU-LAPTOP", Quantity: 1, UnitPriceCents: saga.DefaultApprovalThresholdCents}}
	in.TotalCents = saga.DefaultApprovalThresholdCents // at the threshold; 10% off is below it
	h.run(in)
	h.wantOutcome("", saga.StatusCompleted)
	if got := h.stepStatus(saga.StepApproval); got != saga.StepSkipped {
		t.Errorf("Approval = %s, want SKIPPED: the discounted total is below the threshold", got)
	}
}
