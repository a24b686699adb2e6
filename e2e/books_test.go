package e2e

// End-to-end regression tests of the issue "Exact money and stock under concurrency",
// named after its defects, and its load test. The defects that live in one service or in
// the workflow alone are tested there (services/*, workflows/books_test.go).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/books"
	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/loadgen"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// Defect 3: POST /v1/orders answered 5xx for an order it had placed; defect 9: an
// accepted order was not always readable. An API whose task queue no worker polls keeps
// every order PENDING, so that nothing after the start can succeed.
func TestAPlacedOrderIsNeverAnswered5xx(t *testing.T) {
	s := env.stacks[0]
	queue := "e2e-no-worker-" + randomHex(4)
	apiURL := s.extraAPI(t, "TEMPORAL_TASK_QUEUE="+queue)
	other := &stack{name: s.name + "-no-worker", apiURL: apiURL}
	t.Cleanup(func() { terminateQueue(t, queue) })

	req := orderRequest(s.newCustomer(t, 100000), "pm_card_visa", "US", "SKU-MUG:1")
	r := other.call(t, http.MethodPost, "/v1/orders?wait=2s", req, "Idempotency-Key", "k-"+randomHex(6))
	if r.status != http.StatusAccepted {
		t.Fatalf("POST ?wait=2s with no worker: %d %s, want 202", r.status, r.body)
	}
	v := r.view(t)
	if v.Status != saga.StatusPending || v.OrderID == "" || v.RunID == "" || v.Links.TemporalUI == "" {
		t.Errorf("answer = %s %q run %q links %+v; want PENDING with its IDs and links", v.Status, v.OrderID, v.RunID, v.Links)
	}
	got := other.call(t, http.MethodGet, "/v1/orders/"+v.OrderID, nil)
	if got.status != http.StatusOK || got.view(t).Status != saga.StatusPending || got.view(t).TotalCents != 800 {
		t.Errorf("GET of the placed order: %d %s, want 200 PENDING with its total", got.status, got.body)
	}
	again := other.call(t, http.MethodPost, "/v1/orders?wait=1s", req, "Idempotency-Key", r.view(t).OrderID)
	if again.status >= 500 {
		t.Errorf("a replay with ?wait: %d %s, want no 5xx", again.status, again.body)
	}
	if plain := other.call(t, http.MethodPost, "/v1/orders", orderRequest("cust-1", "pm_card_visa", "US", "SKU-MUG:1")); plain.status != http.StatusAccepted {
		t.Errorf("POST without wait: %d %s, want 202", plain.status, plain.body)
	}
}

// Defect 4: a long or multi-line note parked an order for good.
func TestLongAndMultiLineNotesEndToEnd(t *testing.T) {
	each(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		t.Run("a cancel with a 1000-character note through the API ends CANCELLED", func(t *testing.T) {
			injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 2000, Operations: []string{"charge"}})
			id := s.placeNoWait(t, orderRequest(s.newCustomer(t, 100000), "pm_card_visa", "US", "SKU-MUG:1"))
			s.await(t, id, 10*time.Second, "ChargePayment running", func(v app.OrderView) bool {
				return stepStatus(v, saga.StepChargePayment) == saga.StepRunning
			})
			c := s.call(t, http.MethodPost, "/v1/orders/"+id+"/cancel", map[string]string{"note": strings.Repeat("why ", 250)})
			if c.status != http.StatusAccepted {
				t.Fatalf("cancel: %d %s", c.status, c.body)
			}
			v := s.await(t, id, 30*time.Second, "the end", func(v app.OrderView) bool { return v.Status.Settled() })
			if v.Status != saga.StatusCancelled {
				t.Errorf("order = %s %+v, want CANCELLED", v.Status, v.Attention)
			}
			if o, err := s.orders.Get(ctx, id); err != nil || o.Status != order.Cancelled || len([]rune(o.Reason)) > domain.Reason.Max {
				t.Errorf("order service has %s with a reason of %d characters (%v)", o.Status, len([]rune(o.Reason)), err)
			}
		})
		t.Run("a reject signal with a two-line note from the CLI ends REJECTED", func(t *testing.T) {
			v := s.place(t, orderRequest(s.newCustomer(t, 1_000_000), "pm_card_visa", "US", "SKU-LAPTOP:1"))
			if v.Status != saga.StatusAwaitingApproval {
				t.Fatalf("order = %s, want AWAITING_APPROVAL", v.Status)
			}
			if err := s.tc.SignalWorkflow(ctx, saga.WorkflowID(v.OrderID), "", saga.SignalReject,
				saga.Decision{By: "ops", Note: "fraud check\nfailed twice"}); err != nil {
				t.Fatal(err)
			}
			done := s.await(t, v.OrderID, 30*time.Second, "the end", func(v app.OrderView) bool { return v.Status.Settled() && v.Status != saga.StatusAwaitingApproval })
			if done.Status != saga.StatusRejected || done.Failure == nil || done.Failure.Message != "rejected by ops: fraud check failed twice" {
				t.Errorf("order = %s %+v, want REJECTED with the note on one line", done.Status, done.Failure)
			}
		})
		t.Run("resolve-manually leaves the order row in its final status", func(t *testing.T) {
			injectFaults(t, s.orders.Faults(), faults.Config{ErrorRate: 1, Operations: []string{"cancel"}})
			v := s.place(t, orderRequest(s.newCustomer(t, 100000), "pm_card_declined", "US", "SKU-MUG:1"))
			if v.Status != saga.StatusNeedsAttention {
				t.Fatalf("order = %s, want NEEDS_ATTENTION (CancelOrder cannot run)", v.Status)
			}
			r := s.call(t, http.MethodPost, "/v1/orders/"+v.OrderID+"/resolve-manually",
				map[string]string{"note": "marked rejected by hand"}, "Authorization", "Bearer "+operatorToken)
			if r.status != http.StatusOK {
				t.Fatalf("resolve-manually: %d %s", r.status, r.body)
			}
			s.await(t, v.OrderID, 20*time.Second, "the end", func(v app.OrderView) bool { return v.Status.Final() })
			deadline := time.Now().Add(10 * time.Second)
			for {
				o, err := s.orders.Get(ctx, v.OrderID)
				if err == nil && o.Status == order.Rejected && o.ErrorType == saga.PaymentDeclined {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the order service has %s (%v) after resolve-manually, want REJECTED (PaymentDeclined)", o.Status, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if got := s.get(t, v.OrderID); got.Status != saga.StatusRejected {
				t.Errorf("GET = %s, want REJECTED", got.Status)
			}
		})
	})
}

// Defect 5: clients waiting with ?wait used up the workflow's updates, so that a
// customer's cancel was refused.
func TestWaitingClientsNeverBlockACancel(t *testing.T) {
	each(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		fc := injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 20000, Operations: []string{"charge"}})
		cust := s.newCustomer(t, 100000)
		req := orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:1")
		key := "wait-" + randomHex(6)
		first := s.call(t, http.MethodPost, "/v1/orders", req, "Idempotency-Key", key)
		if first.status != http.StatusAccepted {
			t.Fatalf("place: %d %s", first.status, first.body)
		}
		id := first.view(t).OrderID
		s.await(t, id, 10*time.Second, "ChargePayment running", func(v app.OrderView) bool {
			return stepStatus(v, saga.StepChargePayment) == saga.StepRunning
		})

		var wg sync.WaitGroup
		answers := make(chan response, 50)
		for i := range 50 {
			wg.Go(func() {
				if i%2 == 0 {
					answers <- s.call(t, http.MethodPost, "/v1/orders?wait=30s", req, "Idempotency-Key", key)
				} else {
					answers <- s.call(t, http.MethodGet, "/v1/orders/"+id+"?wait=30s", nil)
				}
			})
		}
		time.Sleep(time.Second) // not a condition: let the 50 waits reach the API before the cancel
		c := s.call(t, http.MethodPost, "/v1/orders/"+id+"/cancel", map[string]string{"note": "waited too long"})
		if c.status != http.StatusAccepted {
			t.Fatalf("cancel with 50 clients waiting: %d %s, want 202", c.status, c.body)
		}
		wg.Wait()
		close(answers)
		for a := range answers {
			if a.status != http.StatusOK {
				t.Errorf("a waiting client got %d %s", a.status, a.body)
			}
		}
		v := s.await(t, id, 30*time.Second, "the end", func(v app.OrderView) bool { return v.Status.Final() })
		if v.Status != saga.StatusCancelled {
			t.Errorf("order = %s, want CANCELLED", v.Status)
		}
		if err := fc.Set(ctx, faults.Config{}); err != nil {
			t.Fatal(err)
		}
		if b := s.balance(t, cust); b != 100000 {
			// The charge held in the payment service may still be in flight; it is refused
			// by the refund's tombstone when it lands.
			t.Errorf("balance = %d, want 100000", b)
		}
	})
}

// Defect 6: an order ID reused after its workflow was gone (past retention) started a
// saga that undid the old order's work. The old orders here are made as retention leaves
// them: known to the order service, with no workflow. (The dev server deletes a workflow
// only half a minute after it is asked to.)
func TestAnOrderIDReusedAfterRetention(t *testing.T) {
	each(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		cust := s.newCustomer(t, 100000)
		old := func(orderID string, req app.PlaceRequest) {
			t.Helper()
			it := req.Items[0]
			o := order.CreateRequest{OrderID: orderID, CustomerID: req.CustomerID, TotalCents: int64(it.Quantity) * 800,
				Items: []order.Item{{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: 800}}, Currency: "USD",
				PaymentMethod: req.PaymentMethod, ShippingAddress: order.Address(req.ShippingAddress)}
			// What its saga did, long ago: every step.
			_, err := s.orders.Create(ctx, o)
			if err == nil {
				_, err = s.inventory.Reserve(ctx, orderID, []inventory.Item{{SKU: it.SKU, Quantity: it.Quantity}})
			}
			if err == nil {
				_, err = s.payments.Charge(ctx, payment.ChargeRequest{OrderID: orderID, CustomerID: req.CustomerID,
					AmountCents: o.TotalCents, Currency: "USD", PaymentMethod: req.PaymentMethod})
			}
			if err == nil {
				_, err = s.shipping.Schedule(ctx, shipping.ScheduleRequest{OrderID: orderID,
					Address: shipping.Address(req.ShippingAddress), Items: []shipping.Item{{SKU: it.SKU, Quantity: it.Quantity}}})
			}
			if err == nil {
				_, err = s.orders.Confirm(ctx, orderID)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		req := orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:1")
		req.OrderID = "reused-" + randomHex(5)
		old(req.OrderID, req)
		key := "key-" + randomHex(6)
		keyed := orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:3")
		old(app.OrderIDForKey(cust, key), keyed)

		if r := s.call(t, http.MethodPost, "/v1/orders", req); r.status != http.StatusOK || r.view(t).Status != saga.StatusCompleted {
			t.Errorf("the same request again: %d %s, want 200 with the COMPLETED order", r.status, r.body)
		}
		other := req
		other.Items = []app.ItemRequest{{SKU: "SKU-MUG", Quantity: 2}}
		if r := s.call(t, http.MethodPost, "/v1/orders", other); r.status != http.StatusConflict || r.problem(t).Code != "OrderExists" {
			t.Errorf("the same order ID with another body: %d %s, want 409 OrderExists", r.status, r.body)
		}
		if r := s.call(t, http.MethodPost, "/v1/orders", keyed, "Idempotency-Key", key); r.status != http.StatusOK || r.view(t).OrderID != app.OrderIDForKey(cust, key) {
			t.Errorf("the same key and body again: %d %s, want 200 with the old order", r.status, r.body)
		}
		if r := s.call(t, http.MethodPost, "/v1/orders", orderRequest(cust, "pm_card_visa", "US", "SKU-BOOK:2"), "Idempotency-Key", key); r.status != http.StatusUnprocessableEntity || r.problem(t).Code != "IdempotencyKeyReused" {
			t.Errorf("the same key with another body: %d %s, want 422 IdempotencyKeyReused", r.status, r.body)
		}
		for _, id := range []string{req.OrderID, app.OrderIDForKey(cust, key)} {
			if _, err := s.tc.DescribeWorkflow(ctx, saga.WorkflowID(id), ""); !errors.As(err, new(*serviceerror.NotFound)) {
				t.Errorf("a workflow was started for the reused ID %s: %v", id, err)
			}
			if o, err := s.orders.Get(ctx, id); err != nil || o.Status != order.Completed {
				t.Errorf("the old order %s is now %s (%v), want COMPLETED", id, o.Status, err)
			}
		}
	})
}

// Defect 8: an order of free items was always rejected at ChargePayment.
func TestAFreeOrderCompletesWithoutACharge(t *testing.T) {
	each(t, func(t *testing.T, s *stack) {
		cust := s.newCustomer(t, 100000)
		sku := s.newProduct(t, 0, 10)
		v := s.place(t, orderRequest(cust, "pm_card_visa", "US", sku+":2"))
		if v.Status != saga.StatusCompleted || v.TotalCents != 0 {
			t.Fatalf("free order = %s, total %d; want COMPLETED, 0", v.Status, v.TotalCents)
		}
		if st := stepStatus(v, saga.StepChargePayment); st != saga.StepSkipped {
			t.Errorf("ChargePayment = %s, want SKIPPED", st)
		}
		if _, err := s.payments.Payment(context.Background(), v.OrderID); !errors.Is(err, payment.ErrNotFound) {
			t.Errorf("payment of a free order: %v, want none", err)
		}
	})
}

// Defect 9 and the load test: 300 mixed orders from 30 concurrent clients, POST without
// ?wait and GET every 50ms until final; every answer must be a success, every order
// final, and the books right. ORDERSAGA_LOAD_ORDERS sets another count.
func TestLoad(t *testing.T) {
	n := 300
	if v := os.Getenv("ORDERSAGA_LOAD_ORDERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("ORDERSAGA_LOAD_ORDERS=%q: %v", v, err)
		}
	}
	each(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		open := books.Opening{Stock: map[string]int{}, Balances: map[string]int64{}}
		cat := loadgen.Catalog{SKU: s.newProduct(t, 700, n*3)}
		open.Stock[cat.SKU] = n * 3
		for range 30 {
			c := s.newCustomer(t, 1_000_000)
			cat.Customers = append(cat.Customers, c)
			open.Balances[c] = 1_000_000
		}
		rep, err := loadgen.Run(ctx, loadgen.Config{
			APIURL: s.apiURL, Orders: n, Concurrency: 30, Catalog: cat,
			Mix: loadgen.Mix{loadgen.Happy: 6, loadgen.Declined: 1, loadgen.Unshippable: 1, loadgen.Flaky: 2},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var summary strings.Builder
		rep.WriteSummary(&summary)
		t.Logf("%s stack, %d orders from 30 clients:\n%s", s.name, n, summary.String())
		if len(rep.Unexpected) > 0 || rep.Failed > 0 {
			t.Errorf("%d answers were not a success, %d orders could not be placed", len(rep.Unexpected), rep.Failed)
		}
		if rep.Settled != n {
			t.Errorf("%d of %d orders settled", rep.Settled, n)
		}
		check, err := books.Check(ctx, s.books(), rep.OrderIDs(), open)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range check.Problems {
			t.Error(p)
		}
	})
}

// books returns the books check's view of the stack.
func (s *stack) books() books.Services {
	return books.Services{API: api.NewClient(s.apiURL, nil), Inventory: s.inventory, Payments: s.payments, Shipping: s.shipping}
}

// placeNoWait places an order and returns its ID at once.
func (s *stack) placeNoWait(t *testing.T, req app.PlaceRequest) string {
	t.Helper()
	r := s.call(t, http.MethodPost, "/v1/orders", req)
	if r.status != http.StatusAccepted {
		t.Fatalf("place order: %d %s", r.status, r.body)
	}
	return r.view(t).OrderID
}

// extraAPI starts another API process of the stack with extraEnv, stopped when t ends,
// and returns its URL.
func (s *stack) extraAPI(t *testing.T, extraEnv ...string) string {
	t.Helper()
	port := freePort()
	envv := append(append([]string{}, s.env...), "API_PORT="+strconv.Itoa(port))
	envv = append(envv, extraEnv...)
	p, err := startProc(fmt.Sprintf("%s-api-%d", s.name, port), filepath.Join(env.binDir, "api"), nil, envv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(15 * time.Second) })
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitOK(url+"/readyz", p); err != nil {
		t.Fatal(err)
	}
	return url
}

// terminateQueue terminates the workflows left running on a task queue no worker polls.
func terminateQueue(t *testing.T, queue string) {
	ctx := context.Background()
	resp, err := env.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("TaskQueue = %q AND ExecutionStatus = 'Running'", queue),
	})
	if err != nil {
		t.Errorf("list workflows on %s: %v", queue, err)
		return
	}
	for _, e := range resp.GetExecutions() {
		if err := env.tc.TerminateWorkflow(ctx, e.GetExecution().GetWorkflowId(), "", "e2e: no worker polls this queue"); err != nil {
			t.Errorf("terminate %s: %v", e.GetExecution().GetWorkflowId(), err)
		}
	}
}
