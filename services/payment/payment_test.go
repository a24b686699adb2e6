package payment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
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

// service is a payment service on a real database, served over real HTTP.
type service struct {
	url    string
	client *payment.Client
}

func start(t *testing.T, cfg database.Config) service {
	t.Helper()
	db := servicetest.Open(t, cfg)
	url := servicetest.Serve(t, db, payment.Operations, payment.New)
	if err := payment.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return service{url: url, client: payment.NewClient(url, nil)}
}

func (s service) balance(t *testing.T, customerID string) int64 {
	t.Helper()
	c, err := s.client.Customer(context.Background(), customerID)
	if err != nil {
		t.Fatalf("get customer %s: %v", customerID, err)
	}
	return c.BalanceCents
}

func (s service) payment(t *testing.T, orderID string) payment.Payment {
	t.Helper()
	p, err := s.client.Payment(context.Background(), orderID)
	if err != nil {
		t.Fatalf("get payment %s: %v", orderID, err)
	}
	return p
}

func (s service) setBalance(t *testing.T, customerID string, cents int64) {
	t.Helper()
	if _, err := s.client.UpsertCustomer(context.Background(), customerID, payment.CustomerUpdate{BalanceCents: cents}); err != nil {
		t.Fatalf("set balance of %s: %v", customerID, err)
	}
}

// charge is a charge request in USD.
func charge(orderID, customerID string, cents int64, method string) payment.ChargeRequest {
	return payment.ChargeRequest{OrderID: orderID, CustomerID: customerID, AmountCents: cents,
		Currency: "USD", PaymentMethod: method}
}

// isServiceUnavailable reports whether err is a 503 ServiceUnavailable answer (not a
// failure to reach the service).
func isServiceUnavailable(err error) bool {
	var re *httpx.ResponseError
	return errors.Is(err, httpx.ErrUnavailable) && errors.As(err, &re) &&
		re.Problem.Status == http.StatusServiceUnavailable && re.Problem.Code == "ServiceUnavailable"
}

func TestSeedCustomers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		for _, want := range payment.SeedCustomers {
			if got := s.balance(t, want.CustomerID); got != want.BalanceCents {
				t.Errorf("%s balance = %d, want %d", want.CustomerID, got, want.BalanceCents)
			}
		}
		t.Run("seeding again on restart leaves balances as they are", func(t *testing.T) {
			if _, err := s.client.Charge(context.Background(), charge("o-seed", "cust-1", 1000, payment.MethodVisa)); err != nil {
				t.Fatal(err)
			}
			again := start(t, cfg) // a second process on the same database
			if got := again.balance(t, "cust-1"); got != 99000 {
				t.Errorf("after restart cust-1 balance = %d, want 99000", got)
			}
		})
	})
}

func TestCharge(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		req := charge("o-1", "cust-1", 2500, payment.MethodVisa)

		t.Run("charging takes the amount from the balance", func(t *testing.T) {
			p, err := s.client.Charge(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != payment.Charged || p.AmountCents != 2500 || p.Currency != "USD" ||
				p.Attempts != 1 || p.ChargedAt == nil || p.RefundedAt != nil || p.DeclineCode != "" {
				t.Fatalf("payment = %+v, want CHARGED 2500 USD after 1 attempt", p)
			}
			if b := s.balance(t, "cust-1"); b != 97500 {
				t.Errorf("cust-1 balance = %d, want 97500", b)
			}
		})
		t.Run("charging again with the same request returns the first payment and takes nothing more", func(t *testing.T) {
			first := s.payment(t, "o-1")
			for i := range 3 {
				again, err := s.client.Charge(ctx, req)
				if err != nil {
					t.Fatalf("replay #%d: %v", i+1, err)
				}
				if again.Status != payment.Charged || !again.CreatedAt.Equal(first.CreatedAt) ||
					!again.ChargedAt.Equal(*first.ChargedAt) || again.Attempts != 1 {
					t.Errorf("replay #%d = %+v, want the first payment %+v", i+1, again, first)
				}
			}
			if b := s.balance(t, "cust-1"); b != 97500 {
				t.Errorf("cust-1 balance = %d, want 97500", b)
			}
		})
		t.Run("charging the same order another amount is a conflict and changes nothing", func(t *testing.T) {
			_, err := s.client.Charge(ctx, charge("o-1", "cust-1", 3000, payment.MethodVisa))
			if !errors.Is(err, payment.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			if b := s.balance(t, "cust-1"); b != 97500 {
				t.Errorf("cust-1 balance = %d, want 97500", b)
			}
			if p := s.payment(t, "o-1"); p.AmountCents != 2500 || p.Status != payment.Charged || p.Attempts != 1 {
				t.Errorf("payment = %+v, want unchanged", p)
			}
		})
		t.Run("charging the same order to another customer or card is a conflict as well", func(t *testing.T) {
			for _, other := range []payment.ChargeRequest{
				charge("o-1", "cust-rich", 2500, payment.MethodVisa),
				charge("o-1", "cust-1", 2500, payment.MethodFlaky),
			} {
				if _, err := s.client.Charge(ctx, other); !errors.Is(err, payment.ErrConflict) {
					t.Errorf("charge %+v: err = %v, want ErrConflict", other, err)
				}
			}
			if b := s.balance(t, "cust-rich"); b != 100000000 {
				t.Errorf("cust-rich balance = %d, want 100000000", b)
			}
		})
	})
}

func TestDecline(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("a declined card is refused, recorded, and takes nothing", func(t *testing.T) {
			_, err := s.client.Charge(ctx, charge("o-dec", "cust-1", 1000, payment.MethodDeclined))
			if !errors.Is(err, payment.ErrPaymentDeclined) {
				t.Fatalf("err = %v, want ErrPaymentDeclined", err)
			}
			if b := s.balance(t, "cust-1"); b != 100000 {
				t.Errorf("cust-1 balance = %d, want 100000", b)
			}
			if p := s.payment(t, "o-dec"); p.Status != payment.Declined || p.DeclineCode != "PaymentDeclined" || p.ChargedAt != nil {
				t.Errorf("payment = %+v, want DECLINED with code PaymentDeclined", p)
			}
		})
		t.Run("charging the declined order again gives the same decline", func(t *testing.T) {
			_, err := s.client.Charge(ctx, charge("o-dec", "cust-1", 1000, payment.MethodDeclined))
			if !errors.Is(err, payment.ErrPaymentDeclined) {
				t.Fatalf("err = %v, want ErrPaymentDeclined", err)
			}
			if p := s.payment(t, "o-dec"); p.Attempts != 1 || p.Status != payment.Declined {
				t.Errorf("payment = %+v, want DECLINED after 1 attempt", p)
			}
			if b := s.balance(t, "cust-1"); b != 100000 {
				t.Errorf("cust-1 balance = %d, want 100000", b)
			}
		})
		t.Run("an unknown payment method is declined", func(t *testing.T) {
			_, err := s.client.Charge(ctx, charge("o-unknown-pm", "cust-1", 1000, "pm_card_nope"))
			if !errors.Is(err, payment.ErrPaymentDeclined) || !strings.Contains(err.Error(), "unknown payment method") {
				t.Fatalf("err = %v, want ErrPaymentDeclined for an unknown payment method", err)
			}
			if b := s.balance(t, "cust-1"); b != 100000 {
				t.Errorf("cust-1 balance = %d, want 100000", b)
			}
		})
		t.Run("insufficient funds take nothing, and a retry gives the same answer", func(t *testing.T) {
			for i := range 2 {
				_, err := s.client.Charge(ctx, charge("o-poor", "cust-2", 6000, payment.MethodVisa))
				if !errors.Is(err, payment.ErrInsufficientFunds) {
					t.Fatalf("charge #%d: err = %v, want ErrInsufficientFunds", i+1, err)
				}
			}
			if b := s.balance(t, "cust-2"); b != 5000 {
				t.Errorf("cust-2 balance = %d, want 5000", b)
			}
			if p := s.payment(t, "o-poor"); p.Status != payment.Declined || p.DeclineCode != "InsufficientFunds" || p.Attempts != 1 {
				t.Errorf("payment = %+v, want DECLINED with code InsufficientFunds after 1 attempt", p)
			}
		})
		t.Run("a charge of exactly the balance empties it", func(t *testing.T) {
			if _, err := s.client.Charge(ctx, charge("o-all", "cust-2", 5000, payment.MethodVisa)); err != nil {
				t.Fatal(err)
			}
			if b := s.balance(t, "cust-2"); b != 0 {
				t.Errorf("cust-2 balance = %d, want 0", b)
			}
		})
		t.Run("an unknown customer writes nothing", func(t *testing.T) {
			_, err := s.client.Charge(ctx, charge("o-nobody", "cust-nope", 1000, payment.MethodVisa))
			if !errors.Is(err, payment.ErrUnknownCustomer) {
				t.Fatalf("err = %v, want ErrUnknownCustomer", err)
			}
			if _, err := s.client.Payment(ctx, "o-nobody"); !errors.Is(err, payment.ErrNotFound) {
				t.Errorf("payment after unknown customer: err = %v, want ErrNotFound", err)
			}
			// Nothing was recorded, so the order can still be charged to a real customer.
			if p, err := s.client.Charge(ctx, charge("o-nobody", "cust-1", 1000, payment.MethodVisa)); err != nil || p.Attempts != 1 {
				t.Errorf("charge after unknown customer = %+v, %v; want a first attempt that succeeds", p, err)
			}
		})
	})
}

func TestFlakyCard(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		req := charge("o-flaky", "cust-1", 1200, payment.MethodFlaky)

		t.Run("the first two attempts answer 503 and are recorded, the third charges", func(t *testing.T) {
			for attempt := 1; attempt <= 2; attempt++ {
				_, err := s.client.Charge(ctx, req)
				if !isServiceUnavailable(err) {
					t.Fatalf("attempt %d: err = %v, want a 503 ServiceUnavailable", attempt, err)
				}
				if p := s.payment(t, "o-flaky"); p.Status != payment.Pending || p.Attempts != attempt {
					t.Errorf("after attempt %d payment = %+v, want PENDING with %d attempts", attempt, p, attempt)
				}
				if b := s.balance(t, "cust-1"); b != 100000 {
					t.Errorf("after attempt %d cust-1 balance = %d, want 100000", attempt, b)
				}
			}
			p, err := s.client.Charge(ctx, req)
			if err != nil {
				t.Fatalf("attempt 3: %v", err)
			}
			if p.Status != payment.Charged || p.Attempts != 3 {
				t.Errorf("attempt 3 payment = %+v, want CHARGED after 3 attempts", p)
			}
			if b := s.balance(t, "cust-1"); b != 98800 {
				t.Errorf("cust-1 balance = %d, want 98800", b)
			}
		})
		t.Run("a retry after the charge returns it without another attempt", func(t *testing.T) {
			p, err := s.client.Charge(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != payment.Charged || p.Attempts != 3 {
				t.Errorf("replay = %+v, want CHARGED after 3 attempts", p)
			}
			if b := s.balance(t, "cust-1"); b != 98800 {
				t.Errorf("cust-1 balance = %d, want 98800", b)
			}
		})
		t.Run("a pending flaky charge with another amount is a conflict that records no attempt", func(t *testing.T) {
			if _, err := s.client.Charge(ctx, charge("o-flaky-2", "cust-1", 500, payment.MethodFlaky)); !isServiceUnavailable(err) {
				t.Fatalf("attempt 1: err = %v, want 503", err)
			}
			if _, err := s.client.Charge(ctx, charge("o-flaky-2", "cust-1", 700, payment.MethodFlaky)); !errors.Is(err, payment.ErrConflict) {
				t.Fatalf("other amount: err = %v, want ErrConflict", err)
			}
			if p := s.payment(t, "o-flaky-2"); p.Status != payment.Pending || p.Attempts != 1 || p.AmountCents != 500 {
				t.Errorf("payment = %+v, want PENDING 500 after 1 attempt", p)
			}
		})
	})
}

func TestRefund(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("refunding gives the amount back once, however often it is called", func(t *testing.T) {
			if _, err := s.client.Charge(ctx, charge("o-r", "cust-1", 4000, payment.MethodVisa)); err != nil {
				t.Fatal(err)
			}
			if b := s.balance(t, "cust-1"); b != 96000 {
				t.Fatalf("cust-1 balance after charge = %d, want 96000", b)
			}
			for i := range 3 {
				p, err := s.client.Refund(ctx, "o-r")
				if err != nil {
					t.Fatalf("refund #%d: %v", i+1, err)
				}
				if p.Status != payment.Refunded || p.RefundedAt == nil || p.AmountCents != 4000 {
					t.Errorf("refund #%d = %+v, want REFUNDED 4000", i+1, p)
				}
			}
			if b := s.balance(t, "cust-1"); b != 100000 {
				t.Errorf("cust-1 balance = %d, want 100000", b)
			}
		})
		t.Run("a charge arriving after its refund is refused", func(t *testing.T) {
			_, err := s.client.Charge(ctx, charge("o-r", "cust-1", 4000, payment.MethodVisa))
			if !errors.Is(err, payment.ErrCompensated) {
				t.Fatalf("err = %v, want ErrCompensated", err)
			}
			if b := s.balance(t, "cust-1"); b != 100000 {
				t.Errorf("cust-1 balance = %d, want 100000", b)
			}
		})
		t.Run("refunding a declined payment leaves it declined and gives nothing", func(t *testing.T) {
			if _, err := s.client.Charge(ctx, charge("o-d", "cust-2", 9000, payment.MethodVisa)); !errors.Is(err, payment.ErrInsufficientFunds) {
				t.Fatalf("charge: err = %v, want ErrInsufficientFunds", err)
			}
			p, err := s.client.Refund(ctx, "o-d")
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != payment.Declined || p.RefundedAt != nil {
				t.Errorf("refund = %+v, want the DECLINED payment", p)
			}
			if b := s.balance(t, "cust-2"); b != 5000 {
				t.Errorf("cust-2 balance = %d, want 5000", b)
			}
		})
	})
}

func TestNullCompensation(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("refunding an order never charged leaves a VOIDED tombstone", func(t *testing.T) {
			p, err := s.client.Refund(ctx, "o-never")
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != payment.Voided || p.AmountCents != 0 || p.ChargedAt != nil {
				t.Fatalf("tombstone = %+v, want VOIDED with no amount", p)
			}
		})
		t.Run("a charge after the tombstone is refused and takes nothing", func(t *testing.T) {
			_, err := s.client.Charge(ctx, charge("o-never", "cust-1", 1500, payment.MethodVisa))
			if !errors.Is(err, payment.ErrCompensated) {
				t.Fatalf("late charge: err = %v, want ErrCompensated", err)
			}
			if b := s.balance(t, "cust-1"); b != 100000 {
				t.Errorf("cust-1 balance = %d, want 100000", b)
			}
			if again, err := s.client.Refund(ctx, "o-never"); err != nil || again.Status != payment.Voided {
				t.Errorf("second refund = %+v, %v; want the VOIDED tombstone", again, err)
			}
		})
		t.Run("refunding a pending flaky charge voids it, and the next attempts are refused", func(t *testing.T) {
			req := charge("o-flaky", "cust-1", 2000, payment.MethodFlaky)
			if _, err := s.client.Charge(ctx, req); !isServiceUnavailable(err) {
				t.Fatalf("attempt 1: err = %v, want 503", err)
			}
			p, err := s.client.Refund(ctx, "o-flaky")
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != payment.Voided {
				t.Fatalf("refund of the pending charge = %+v, want VOIDED", p)
			}
			for attempt := 2; attempt <= 3; attempt++ {
				if _, err := s.client.Charge(ctx, req); !errors.Is(err, payment.ErrCompensated) {
					t.Errorf("attempt %d: err = %v, want ErrCompensated", attempt, err)
				}
			}
			if p := s.payment(t, "o-flaky"); p.Status != payment.Voided || p.Attempts != 1 {
				t.Errorf("payment = %+v, want VOIDED after 1 attempt", p)
			}
			if b := s.balance(t, "cust-1"); b != 100000 {
				t.Errorf("cust-1 balance = %d, want 100000", b)
			}
		})
	})
}

func TestConcurrency(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("50 concurrent identical charges take the amount exactly once", func(t *testing.T) {
			s.setBalance(t, "cust-c1", 10000)
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for range 50 {
				wg.Go(func() {
					if _, err := s.client.Charge(ctx, charge("o-same", "cust-c1", 1000, payment.MethodVisa)); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("charge: %v", err)
			}
			if b := s.balance(t, "cust-c1"); b != 9000 {
				t.Errorf("cust-c1 balance = %d, want 9000", b)
			}
			if p := s.payment(t, "o-same"); p.Status != payment.Charged || p.Attempts != 1 {
				t.Errorf("payment = %+v, want CHARGED after 1 attempt", p)
			}
		})
		t.Run("50 concurrent refunds of a charged order give the amount back exactly once", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for range 50 {
				wg.Go(func() {
					p, err := s.client.Refund(ctx, "o-same")
					if err == nil && p.Status != payment.Refunded {
						err = fmt.Errorf("status %s, want REFUNDED", p.Status)
					}
					if err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("refund: %v", err)
			}
			if b := s.balance(t, "cust-c1"); b != 10000 {
				t.Errorf("cust-c1 balance = %d, want 10000", b)
			}
		})
		t.Run("100 concurrent charges against one balance never overdraw it", func(t *testing.T) {
			const initial = 30000
			s.setBalance(t, "cust-c3", initial)
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				charged = map[string]int64{}
				refused int
			)
			for i := range 100 {
				order, amount := fmt.Sprintf("o-c3-%d", i), int64(500+250*(i%4)) // 100 charges of 875 on average
				wg.Go(func() {
					_, err := s.client.Charge(ctx, charge(order, "cust-c3", amount, payment.MethodVisa))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						charged[order] = amount
					case errors.Is(err, payment.ErrInsufficientFunds):
						refused++
					default:
						t.Errorf("charge %s: %v", order, err)
					}
				})
			}
			wg.Wait()
			var sum int64
			for _, a := range charged {
				sum += a
			}
			b := s.balance(t, "cust-c3")
			if b < 0 || b != initial-sum {
				t.Errorf("cust-c3 balance = %d, want %d - %d = %d", b, initial, sum, initial-sum)
			}
			if len(charged) == 0 || refused == 0 || len(charged)+refused != 100 {
				t.Errorf("%d charged, %d refused; want some of each, 100 in all", len(charged), refused)
			}
			if b >= 500 {
				t.Errorf("cust-c3 balance = %d left over, but the smallest charge (500) was refused", b)
			}
			for i := range 100 {
				order := fmt.Sprintf("o-c3-%d", i)
				_, ok := charged[order]
				if p := s.payment(t, order); (p.Status == payment.Charged) != ok {
					t.Errorf("payment %s = %s, but the charge answered ok=%v", order, p.Status, ok)
				}
			}
		})
		t.Run("100 orders charged and refunded concurrently leave the balance as it was", func(t *testing.T) {
			const initial = 1000000
			s.setBalance(t, "cust-c4", initial)
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			for i := range 200 {
				order := fmt.Sprintf("o-c4-%d", i%100) // each order is charged and refunded once, in either order
				wg.Go(func() {
					var err error
					if i < 100 {
						_, err = s.client.Charge(ctx, charge(order, "cust-c4", int64(100+i), payment.MethodVisa))
					} else {
						_, err = s.client.Refund(ctx, order)
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
			if b := s.balance(t, "cust-c4"); b != initial {
				t.Errorf("cust-c4 balance = %d after every order was refunded or voided, want %d", b, initial)
			}
			for i := range 100 {
				if p := s.payment(t, fmt.Sprintf("o-c4-%d", i)); p.Status != payment.Refunded && p.Status != payment.Voided {
					t.Errorf("payment o-c4-%d = %s, want REFUNDED or VOIDED", i, p.Status)
				}
			}
		})
	})
}

func TestHTTPAnswers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		const body = `{"orderId":"o-h","customerId":"cust-1","amountCents":1000,"currency":"USD","paymentMethod":"pm_card_visa"}`

		t.Run("a new charge answers 201 and its replay 200", func(t *testing.T) {
			for _, want := range []int{201, 200} {
				resp, data := servicetest.Send(t, "POST", s.url+"/payments", "application/json", body)
				if resp.StatusCode != want {
					t.Errorf("status = %d, want %d (%s)", resp.StatusCode, want, data)
				}
			}
		})
		t.Run("a payment shows orderId, status, amountCents and attempts", func(t *testing.T) {
			resp, data := servicetest.Send(t, "GET", s.url+"/payments/o-h", "", "")
			var got map[string]any
			if err := json.Unmarshal(data, &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /payments/o-h = %d %s (%v)", resp.StatusCode, data, err)
			}
			want := map[string]any{"orderId": "o-h", "customerId": "cust-1", "status": "CHARGED",
				"amountCents": 1000.0, "currency": "USD", "paymentMethod": "pm_card_visa", "attempts": 1.0}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range []string{"createdAt", "updatedAt", "chargedAt"} {
				if _, ok := got[k]; !ok {
					t.Errorf("%s is missing from %s", k, data)
				}
			}
			for _, k := range []string{"declineCode", "refundedAt"} {
				if _, ok := got[k]; ok {
					t.Errorf("%s should be omitted from a charged payment: %s", k, data)
				}
			}
		})
		t.Run("a customer shows customerId and balanceCents", func(t *testing.T) {
			resp, data := servicetest.Send(t, "GET", s.url+"/customers/cust-1", "", "")
			if resp.StatusCode != 200 || string(data) != `{"customerId":"cust-1","balanceCents":99000}` {
				t.Errorf("GET /customers/cust-1 = %d %s", resp.StatusCode, data)
			}
		})
		t.Run("putting a customer answers 201 when it is new and 200 when it exists", func(t *testing.T) {
			for _, want := range []int{201, 200} {
				resp, data := servicetest.Send(t, "PUT", s.url+"/customers/cust-new", "application/json", `{"balanceCents":700}`)
				if resp.StatusCode != want || string(data) != `{"customerId":"cust-new","balanceCents":700}` {
					t.Errorf("PUT /customers/cust-new = %d %s, want %d", resp.StatusCode, data, want)
				}
			}
		})
		t.Run("refunding answers 200", func(t *testing.T) {
			resp, data := servicetest.Send(t, "POST", s.url+"/payments/o-h/refund", "", "")
			if resp.StatusCode != 200 || !strings.Contains(string(data), `"status":"REFUNDED"`) {
				t.Errorf("refund = %d %s", resp.StatusCode, data)
			}
		})
		cases := []struct {
			name   string
			req    payment.ChargeRequest
			status int
			code   string
		}{
			{"a declined card", charge("o-h1", "cust-1", 1000, payment.MethodDeclined), 402, "PaymentDeclined"},
			{"insufficient funds", charge("o-h2", "cust-2", 5001, payment.MethodVisa), 402, "InsufficientFunds"},
			{"an unknown customer", charge("o-h3", "cust-nope", 1000, payment.MethodVisa), 422, "UnknownCustomer"},
			{"a failed attempt of the flaky card", charge("o-h4", "cust-1", 1000, payment.MethodFlaky), 503, "ServiceUnavailable"},
			{"a charge after the refund", charge("o-h", "cust-1", 1000, payment.MethodVisa), 409, "AlreadyCompensated"},
			{"a replay with a different amount", charge("o-h1", "cust-1", 2000, payment.MethodDeclined), 409, "IdempotencyConflict"},
		}
		for _, tc := range cases {
			t.Run(tc.name+" is answered "+fmt.Sprint(tc.status, " ", tc.code), func(t *testing.T) {
				b, _ := json.Marshal(tc.req)
				resp, data := servicetest.Send(t, "POST", s.url+"/payments", "application/json", string(b))
				p := servicetest.DecodeProblem(t, resp, data)
				if resp.StatusCode != tc.status || p.Code != tc.code || p.Status != tc.status {
					t.Errorf("answer %d %+v, want %d %s", resp.StatusCode, p, tc.status, tc.code)
				}
			})
		}
		if b := s.balance(t, "cust-1"); b != 100000 {
			t.Errorf("cust-1 balance = %d after a refund and only failed charges, want 100000", b)
		}
	})
}

func TestBadInput(t *testing.T) {
	const valid = `"orderId":"o-x","customerId":"cust-1","amountCents":1000,"currency":"USD","paymentMethod":"pm_card_visa"`
	huge := `{` + valid + `,"pad":"` + strings.Repeat("x", httpx.MaxBodyBytes) + `"}`
	without := func(field string) string {
		parts := strings.Split(valid, ",")
		parts = slices.DeleteFunc(parts, func(p string) bool { return strings.HasPrefix(p, `"`+field+`"`) })
		return "{" + strings.Join(parts, ",") + "}"
	}
	with := func(field, value string) string {
		return strings.Replace(without(field), "{", `{"`+field+`":`+value+",", 1)
	}
	cases := []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
	}{
		{"malformed JSON", "POST", "/payments", "application/json", `{"orderId":"o-x",`, 400, "MalformedRequest"},
		{"a JSON array instead of an object", "POST", "/payments", "application/json", `[1,2]`, 400, "MalformedRequest"},
		{"two JSON values", "POST", "/payments", "application/json", `{` + valid + `} {}`, 400, "MalformedRequest"},
		{"an unknown field", "POST", "/payments", "application/json", `{` + valid + `,"amount":1}`, 400, "MalformedRequest"},
		{"a string amount", "POST", "/payments", "application/json", with("amountCents", `"1000"`), 400, "MalformedRequest"},
		{"a fractional amount", "POST", "/payments", "application/json", with("amountCents", `10.5`), 400, "MalformedRequest"},
		{"a zero amount", "POST", "/payments", "application/json", with("amountCents", `0`), 422, "ValidationFailed"},
		{"a negative amount", "POST", "/payments", "application/json", with("amountCents", `-100`), 422, "ValidationFailed"},
		{"an amount over 10^12 cents", "POST", "/payments", "application/json", with("amountCents", `1000000000001`), 422, "ValidationFailed"},
		{"a missing amount", "POST", "/payments", "application/json", without("amountCents"), 422, "ValidationFailed"},
		{"a missing order ID", "POST", "/payments", "application/json", without("orderId"), 422, "ValidationFailed"},
		{"an invalid order ID", "POST", "/payments", "application/json", with("orderId", `"o x"`), 422, "ValidationFailed"},
		{"a missing customer ID", "POST", "/payments", "application/json", without("customerId"), 422, "ValidationFailed"},
		{"a missing currency", "POST", "/payments", "application/json", without("currency"), 422, "ValidationFailed"},
		{"another currency", "POST", "/payments", "application/json", with("currency", `"EUR"`), 422, "ValidationFailed"},
		{"a missing payment method", "POST", "/payments", "application/json", without("paymentMethod"), 422, "ValidationFailed"},
		{"an unknown customer", "POST", "/payments", "application/json", with("customerId", `"cust-x"`), 422, "UnknownCustomer"},
		{"an empty body", "POST", "/payments", "application/json", ``, 400, "MalformedRequest"},
		{"a body over 1 MiB", "POST", "/payments", "application/json", huge, 413, "RequestTooLarge"},
		{"a form instead of JSON", "POST", "/payments", "application/x-www-form-urlencoded", `orderId=o-x`, 415, "UnsupportedMediaType"},
		{"no content type", "POST", "/payments", "", `{` + valid + `}`, 415, "UnsupportedMediaType"},
		{"a refund of an invalid order ID", "POST", "/payments/-x/refund", "", ``, 422, "ValidationFailed"},
		{"a negative balance", "PUT", "/customers/cust-x", "application/json", `{"balanceCents":-1}`, 422, "ValidationFailed"},
		{"a missing balance", "PUT", "/customers/cust-x", "application/json", `{}`, 422, "ValidationFailed"},
		{"a string balance", "PUT", "/customers/cust-x", "application/json", `{"balanceCents":"5"}`, 400, "MalformedRequest"},
		{"an invalid customer ID", "PUT", "/customers/-x", "application/json", `{"balanceCents":5}`, 422, "ValidationFailed"},
		{"an unknown payment", "GET", "/payments/o-x", "", ``, 404, "NotFound"},
		{"a NUL byte in a payment's order ID", "GET", "/payments/o%00x", "", ``, 404, "NotFound"},
		{"a NUL byte in a customer ID", "GET", "/customers/c%00x", "", ``, 404, "NotFound"},
		{"an unknown customer's balance", "GET", "/customers/cust-x", "", ``, 404, "NotFound"},
		{"an unknown route", "GET", "/nope", "", ``, 404, "RouteNotFound"},
		{"a wrong method", "DELETE", "/payments/o-x", "", ``, 405, "MethodNotAllowed"},
	}
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		for _, tc := range cases {
			t.Run(tc.name+" is answered "+fmt.Sprint(tc.status), func(t *testing.T) {
				resp, data := servicetest.Send(t, tc.method, s.url+tc.path, tc.contentType, tc.body)
				p := servicetest.DecodeProblem(t, resp, data)
				if resp.StatusCode != tc.status || p.Code != tc.code || p.Status != tc.status {
					t.Errorf("answer %d %+v, want %d %s", resp.StatusCode, p, tc.status, tc.code)
				}
			})
		}
		for _, c := range payment.SeedCustomers {
			if b := s.balance(t, c.CustomerID); b != c.BalanceCents {
				t.Errorf("bad requests changed %s's balance to %d, want %d", c.CustomerID, b, c.BalanceCents)
			}
		}
		ctx := context.Background()
		for _, id := range []string{"o-x", "-x"} {
			if _, err := s.client.Payment(ctx, id); !errors.Is(err, payment.ErrNotFound) {
				t.Errorf("a bad request left a payment for %s: %v", id, err)
			}
		}
		for _, id := range []string{"cust-x", "-x"} {
			if _, err := s.client.Customer(ctx, id); !errors.Is(err, payment.ErrNotFound) {
				t.Errorf("a bad request left customer %s: %v", id, err)
			}
		}
		// The request the table mangled is itself valid: it goes through once the input is right.
		var req payment.ChargeRequest
		if err := json.Unmarshal([]byte("{"+valid+"}"), &req); err != nil {
			t.Fatal(err)
		}
		if p, err := s.client.Charge(ctx, req); err != nil || p.Attempts != 1 {
			t.Errorf("the valid request = %+v, %v; want a first attempt that succeeds", p, err)
		}
	})
}

func TestFaultInjection(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		fc := s.client.Faults()
		if _, err := s.client.Charge(ctx, charge("o-f", "cust-1", 1000, payment.MethodVisa)); err != nil {
			t.Fatal(err)
		}

		t.Run("an error rate of 1 on refund answers 503 and the payment stays charged", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{ErrorRate: 1, Operations: []string{"refund"}}); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := s.client.Refund(ctx, "o-f"); !isServiceUnavailable(err) {
					t.Fatalf("refund: err = %v, want a 503 ServiceUnavailable", err)
				}
			}
			if p := s.payment(t, "o-f"); p.Status != payment.Charged {
				t.Errorf("payment = %+v, want CHARGED", p)
			}
			if b := s.balance(t, "cust-1"); b != 99000 {
				t.Errorf("cust-1 balance = %d, want 99000", b)
			}
			if _, err := s.client.Refund(ctx, "o-f-never"); !isServiceUnavailable(err) {
				t.Errorf("refund of an unknown order: err = %v, want 503", err)
			}
			if _, err := s.client.Payment(ctx, "o-f-never"); !errors.Is(err, payment.ErrNotFound) {
				t.Errorf("the failed refund left a tombstone: %v", err)
			}
			if _, err := s.client.Charge(ctx, charge("o-f2", "cust-1", 500, payment.MethodVisa)); err != nil {
				t.Errorf("charge is not targeted but failed: %v", err)
			}
		})
		t.Run("the setting reads back from GET /admin/faults", func(t *testing.T) {
			got, err := fc.Get(ctx)
			if err != nil || got.ErrorRate != 1 || !slices.Equal(got.Operations, []string{"refund"}) {
				t.Errorf("GET /admin/faults = %+v, %v; want error rate 1 on refund", got, err)
			}
		})
		t.Run("clearing the faults lets the refund through", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{}); err != nil {
				t.Fatal(err)
			}
			if p, err := s.client.Refund(ctx, "o-f"); err != nil || p.Status != payment.Refunded {
				t.Fatalf("refund = %+v, %v; want REFUNDED", p, err)
			}
			if b := s.balance(t, "cust-1"); b != 99500 {
				t.Errorf("cust-1 balance = %d, want 99500", b)
			}
		})
		t.Run("operations of other services are refused", func(t *testing.T) {
			err := fc.Set(ctx, faults.Config{Operations: []string{"reserve"}})
			if !errors.Is(err, validate.ErrInvalid) {
				t.Errorf("set reserve: err = %v, want ErrValidation", err)
			}
		})
	})
}

// TestRefundNeverAnswersSuccessWhileCharged is the regression test of "a refund can answer
// success while the customer stays charged": a charge attempt of a PENDING payment that
// runs while a refund is deciding must not end CHARGED behind a refund that answered
// success. The refund pauses (a test hook) right after writing or finding its tombstone;
// meanwhile a third attempt of a flaky charge starts and is held mid-transaction by a lock
// on the customer's row taken from outside. The interleaving needs PostgreSQL's row-level
// concurrency (SQLite runs one write transaction at a time), so it runs there only.
func TestRefundNeverAnswersSuccessWhileCharged(t *testing.T) {
	ctx := context.Background()
	cfg, ok := dbtest.Postgres(t)
	if !ok {
		t.Skip("PostgreSQL not configured: set " + dbtest.EnvURL)
	}
	db := servicetest.Open(t, cfg)
	store, err := payment.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	inj, _ := faults.New(payment.Operations, faults.Config{})
	srv := httptest.NewServer(payment.NewHandler(store, inj, slog.New(slog.DiscardHandler), httpx.Options{}))
	t.Cleanup(srv.Close)
	s := service{url: srv.URL, client: payment.NewClient(srv.URL, nil)}

	s.setBalance(t, "cust-lock", 10000)
	req := charge("o-inflight", "cust-lock", 1200, payment.MethodFlaky)
	for range 2 { // two failed attempts leave the payment PENDING
		if _, err := s.client.Charge(ctx, req); !isServiceUnavailable(err) {
			t.Fatalf("flaky attempt: err = %v, want 503", err)
		}
	}

	waiting := func() int {
		var n int
		db.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return n
	}
	lock := db.Begin() // holds the customer's row: a charge attempt waits there to debit
	if err := lock.Exec(`SELECT 1 FROM customers WHERE customer_id = ? FOR UPDATE`, "cust-lock").Error; err != nil {
		t.Fatal(err)
	}
	type result struct {
		p   payment.Payment
		err error
	}
	charged := make(chan result, 1)
	payment.SetRefundHook(store, func() {
		// The refund has its tombstone (or found the payment); now a charge attempt runs
		// until it waits for a lock: the customer's row, or the payment the refund holds.
		go func() { p, err := s.client.Charge(ctx, req); charged <- result{p, err} }()
		deadline := time.Now().Add(10 * time.Second)
		for waiting() < 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	})
	refunded := make(chan result, 1)
	go func() { p, err := s.client.Refund(ctx, "o-inflight"); refunded <- result{p, err} }()

	// Let the charge go once both requests are in flight: the refund either finished
	// (holding the payment first) or waits behind the charge.
	deadline := time.Now().Add(10 * time.Second)
	for len(refunded) == 0 && waiting() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := lock.Commit().Error; err != nil {
		t.Fatal(err)
	}
	r, c := <-refunded, <-charged
	t.Logf("refund: %s %v; in-flight charge: %s %v", r.p.Status, r.err, c.p.Status, c.err)
	final := s.payment(t, "o-inflight")
	if r.err == nil && final.Status != payment.Refunded && final.Status != payment.Voided {
		t.Errorf("refund answered success (%s) but the payment ended %s", r.p.Status, final.Status)
	}
	if want := map[payment.Status]int64{payment.Refunded: 10000, payment.Voided: 10000, payment.Charged: 8800}[final.Status]; s.balance(t, "cust-lock") != want {
		t.Errorf("balance = %d with the payment %s, want %d", s.balance(t, "cust-lock"), final.Status, want)
	}
}
