package payment

import (
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/internal/httpx"
)

// The payment's state machine. Each decision is a pure function of the payment as stored
// (and, for an attempt, of the customer's balance); the store loads the payment under a
// row lock, calls the decision and writes what it says, so that two requests for one
// order are decided one after the other, each on the other's outcome.
//
//	(none) --charge--> PENDING --attempt--> CHARGED --refund--> REFUNDED
//	                      |  \--attempt--> DECLINED (nothing taken; a refund keeps it)
//	                      |   \-attempt (flaky test card)--> PENDING
//	                      \--refund--> VOIDED
//	(none) --refund--> VOIDED (a tombstone: a later charge is refused)

// matches reports whether p was made for the same request as req.
func (p Payment) matches(req ChargeRequest) bool {
	return p.CustomerID == req.CustomerID && p.AmountCents == req.AmountCents &&
		p.Currency == req.Currency && p.PaymentMethod == req.PaymentMethod
}

// declineErr is the error a DECLINED payment is answered with, from its decline code.
func (p Payment) declineErr() error {
	switch {
	case p.DeclineCode == DeclineInsufficientFunds:
		return fmt.Errorf("%w: customer %s cannot cover %d cents", ErrInsufficientFunds, p.CustomerID, p.AmountCents)
	case p.PaymentMethod == MethodDeclined:
		return fmt.Errorf("%w: the card was declined", ErrPaymentDeclined)
	default:
		return fmt.Errorf("%w: unknown payment method %q", ErrPaymentDeclined, p.PaymentMethod)
	}
}

// decideCharge says what a charge request does to the stored payment p (a new payment is
// stored PENDING before this is asked): attempt the charge (true), or answer p as it is
// (false, nil), or refuse with ErrCompensated, ErrConflict or the decline p was settled
// with.
func decideCharge(p Payment, req ChargeRequest) (attempt bool, err error) {
	switch {
	case p.Status == Refunded || p.Status == Voided:
		return false, fmt.Errorf("%w (%s)", ErrCompensated, p.Status)
	case !p.matches(req):
		return false, ErrConflict
	case p.Status == Declined:
		return false, p.declineErr()
	case p.Status == Charged:
		return false, nil
	}
	return true, nil
}

// Attempt is the outcome of one charge attempt.
type Attempt struct {
	// Status is the payment's new status: CHARGED, DECLINED, or PENDING when the attempt
	// failed and may be retried.
	Status Status
	// DeclineCode says why a DECLINED payment was declined.
	DeclineCode string
	// Err is the error the attempt is answered with: the decline, or an error wrapping
	// httpx.ErrUnavailable for a failed attempt.
	Err error
}

// attemptCharge decides the attempt numbered p.Attempts (counting this one) of the PENDING
// payment p for a customer whose balance is balanceCents.
func attemptCharge(p Payment, balanceCents int64) Attempt {
	switch p.PaymentMethod {
	case MethodVisa:
	case MethodFlaky:
		if p.Attempts <= flakyFailures {
			return Attempt{Status: Pending, Err: fmt.Errorf("%w: %s failed attempt %d of order %s (test card)",
				httpx.ErrUnavailable, MethodFlaky, p.Attempts, p.OrderID)}
		}
	default:
		p.DeclineCode = DeclinePaymentDeclined
		return Attempt{Status: Declined, DeclineCode: p.DeclineCode, Err: p.declineErr()}
	}
	if balanceCents < p.AmountCents {
		p.DeclineCode = DeclineInsufficientFunds
		return Attempt{Status: Declined, DeclineCode: p.DeclineCode, Err: p.declineErr()}
	}
	return Attempt{Status: Charged}
}

// decideRefund says what a refund does to the stored payment p: its new status, and
// whether the amount goes back to the customer. Only a CHARGED payment is refunded; a
// PENDING one is voided, so that a later attempt is refused; DECLINED, REFUNDED and VOIDED
// stay as they are. The outcome is never CHARGED or PENDING.
func decideRefund(p Payment) (next Status, credit bool) {
	switch p.Status {
	case Charged:
		return Refunded, true
	case Pending:
		return Voided, false
	}
	return p.Status, false
}

// The coupon redemption's state machine, and its coupon's. The store loads the order's
// redemption under a row lock (and, for a fresh redeem, the coupon under its own, always
// in that order), calls the decision and writes what it says.
//
//	redemption: (none) --redeem--> REDEEMED --restore--> RESTORED
//	            (none) --restore--> VOIDED (a tombstone: a later redeem is refused)
//	coupon:     AVAILABLE --redeem--> REDEEMED (held by the order) --restore--> AVAILABLE

// matches reports whether r was made for the same request as req; subtotalCents is the
// subtotal r was redeemed on (the store keeps it beside the redemption).
func (r Redemption) matches(subtotalCents int64, req RedeemRequest) bool {
	return r.CustomerID == req.CustomerID && r.Code == req.Code && subtotalCents == req.SubtotalCents
}

// decideRedeem says what a redeem request does to the order's stored redemption r,
// redeemed on subtotalCents: answer r as it is (nil), or refuse with ErrCompensated or
// ErrConflict. A stored redemption is never redeemed again.
func decideRedeem(r Redemption, subtotalCents int64, req RedeemRequest) error {
	switch {
	case r.Status == RedemptionRestored || r.Status == RedemptionVoided:
		return fmt.Errorf("%w (coupon redemption %s)", ErrCompensated, r.Status)
	case !r.matches(subtotalCents, req):
		return fmt.Errorf("%w: the order redeemed %q of %s on %d cents", ErrConflict, r.Code, r.CustomerID, subtotalCents)
	}
	return nil
}

// checkCoupon says whether a fresh redeem request may take a coupon, at time now. owned
// is the requesting customer's coupon with the request's code, nil when the customer has
// none; elsewhere says whether another customer has one. The refusals come in this order:
// ErrCouponUnknown (nobody has the code), ErrCouponNotApplicable (only another customer
// has it), ErrCouponExpired, ErrCouponAlreadyRedeemed, then ErrCouponNotApplicable (the
// subtotal is below the minimum). An expired coupon is refused as expired even when it is
// also redeemed: that refusal holds whatever happens to the other order.
func checkCoupon(owned *Coupon, elsewhere bool, req RedeemRequest, now time.Time) error {
	switch {
	case owned == nil && !elsewhere:
		return fmt.Errorf("%w: no coupon %q", ErrCouponUnknown, req.Code)
	case owned == nil:
		return fmt.Errorf("%w: coupon %q is not %s's", ErrCouponNotApplicable, req.Code, req.CustomerID)
	case owned.ExpiresAt != nil && owned.ExpiresAt.Before(now):
		return fmt.Errorf("%w: coupon %q expired at %s", ErrCouponExpired, req.Code, owned.ExpiresAt.UTC().Format(time.RFC3339))
	case owned.Status == CouponRedeemed:
		return fmt.Errorf("%w: coupon %q of %s is held by order %s", ErrCouponAlreadyRedeemed, req.Code, req.CustomerID, owned.OrderID)
	case req.SubtotalCents < owned.MinTotalCents:
		return fmt.Errorf("%w: coupon %q needs a subtotal of at least %d cents, not %d",
			ErrCouponNotApplicable, req.Code, owned.MinTotalCents, req.SubtotalCents)
	}
	return nil
}

// discountCents is what coupon c takes off subtotalCents: Value percent of it rounded
// down for CouponPercent, Value cents for CouponFixed, and nothing for a kind it does not
// know. The result is never negative and never above the subtotal, whatever c holds.
func discountCents(c Coupon, subtotalCents int64) int64 {
	if subtotalCents <= 0 || c.Value <= 0 {
		return 0
	}
	var d int64
	switch c.Kind {
	case CouponPercent:
		pct := min(c.Value, 100)
		// subtotal*pct/100 without the product: exact, and no overflow near MaxInt64.
		d = subtotalCents/100*pct + subtotalCents%100*pct/100
	case CouponFixed:
		d = c.Value
	}
	return min(d, subtotalCents)
}

// decideRestore says what a restore does to the order's stored redemption r: its new
// status, and whether the coupon goes back to the customer. Only a REDEEMED redemption is
// restored; RESTORED and VOIDED stay as they are.
func decideRestore(r Redemption) (next RedemptionStatus, giveBack bool) {
	if r.Status == RedemptionRedeemed {
		return RedemptionRestored, true
	}
	return r.Status, false
}
