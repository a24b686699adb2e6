package payment

import (
	"fmt"

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
