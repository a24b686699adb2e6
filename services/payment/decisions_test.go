package payment

import (
	"errors"
	"testing"

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
