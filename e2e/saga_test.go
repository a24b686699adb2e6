package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

func TestOrderCompletes(t *testing.T) { each(t, orderCompletes) }

func orderCompletes(t *testing.T, s *stack) {
	ctx := context.Background()
	cust := s.newCustomer(t, 100000)
	before := s.product(t, "SKU-BOOK")

	v := s.place(t, orderRequest(cust, "pm_card_visa", "US", "SKU-BOOK:2"))
	s.note("completed", v.OrderID)
	if v.Status != saga.StatusCompleted || v.TotalCents != 3000 {
		t.Fatalf("order = %s, total %d; want COMPLETED, 3000", v.Status, v.TotalCents)
	}
	after := s.product(t, "SKU-BOOK")
	if after.Available != before.Available-2 || after.Reserved != before.Reserved+2 {
		t.Errorf("SKU-BOOK went from %+v to %+v, want 2 taken once", before, after)
	}
	if b := s.balance(t, cust); b != 100000-3000 {
		t.Errorf("balance = %d, want 97000 (charged once)", b)
	}
	if p, err := s.payments.Payment(ctx, v.OrderID); err != nil || p.Status != payment.Charged || p.Attempts != 1 {
		t.Errorf("payment = %+v, %v; want CHARGED after 1 attempt", p, err)
	}
	if sh, err := s.shipping.Shipment(ctx, v.OrderID); err != nil || sh.Status != shipping.Scheduled {
		t.Errorf("shipment = %+v, %v; want SCHEDULED", sh, err)
	}
	if o, err := s.orders.Get(ctx, v.OrderID); err != nil || string(o.Status) != "COMPLETED" {
		t.Errorf("order service has %+v, %v; want COMPLETED", o.Status, err)
	}
	if v.Links.TemporalUI == "" || v.RunID == "" {
		t.Errorf("links = %+v, runId %q; want a Web UI link and a run ID", v.Links, v.RunID)
	}
	// Placed under saga.Revision, the order takes the changes that revision includes
	// without a version marker, nor the search attribute upsert that goes with one.
	for _, ev := range s.history(t, v.OrderID) {
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "Version" {
			t.Errorf("event %d: a version marker in the history of an order of revision %d", ev.GetEventId(), saga.Revision)
		}
		if u := ev.GetUpsertWorkflowSearchAttributesEventAttributes(); u != nil {
			if _, ok := u.GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"]; ok {
				t.Errorf("event %d: TemporalChangeVersion upserted for an order of revision %d", ev.GetEventId(), saga.Revision)
			}
		}
	}
}

// TestStepsRunEagerly checks a setting of make run's dev server (internal/devserver):
// each step's activity goes back to the worker that scheduled it in the answer to its
// workflow task, rather than through matching to a poll.
func TestStepsRunEagerly(t *testing.T) {
	stepsRunEagerly(t, env.stacks[0], "http://"+env.tempMetrics+"/metrics")
}

// stepsRunEagerly places an order on s and checks that the Temporal server whose metrics
// serverMetrics serves started each of its activities eagerly.
func stepsRunEagerly(t *testing.T, s *stack, serverMetrics string) {
	// Counted over every task queue (the server writes their names with '-' as '_'):
	// other orders can only add to it.
	eager := func() float64 { return scrape(t, serverMetrics).serverCount("activity_eager_execution") }
	before := eager()
	v := s.place(t, orderRequest(s.newCustomer(t, 100000), "pm_card_visa", "US", s.newProduct(t, 500, 5)+":1"))
	if v.Status != saga.StatusCompleted {
		t.Fatalf("order = %s, want COMPLETED", v.Status)
	}
	var activities int
	for _, ev := range s.history(t, v.OrderID) {
		if ev.GetActivityTaskScheduledEventAttributes() != nil {
			activities++
		}
	}
	// The server's metrics reach /metrics on its reporting interval.
	ok, last := eventually(func() (bool, string) {
		got := eager() - before
		return activities > 0 && got >= float64(activities), fmt.Sprint(got)
	})
	if !ok {
		t.Errorf("%s activities started eagerly while the order ran its %d; want every one", last, activities)
	}
}

func TestOrderRejected(t *testing.T) { each(t, orderRejected) }

func orderRejected(t *testing.T, s *stack) {
	ctx := context.Background()
	t.Run("a sold-out item is OutOfStock, with nothing reserved or charged", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		v := s.place(t, orderRequest(cust, "pm_card_visa", "US", "SKU-SOLDOUT:1"))
		s.note("out-of-stock", v.OrderID)
		wantRejected(t, v, saga.StepReserveInventory, saga.OutOfStock)
		if sa := s.searchStatus(t, v.OrderID); sa != "REJECTED" {
			t.Errorf("OrderStatus search attribute = %s, want REJECTED", sa)
		}
		if _, err := s.payments.Payment(ctx, v.OrderID); !notFound(err) {
			t.Errorf("payment of a sold-out order: err = %v, want not found", err)
		}
		if _, err := s.inventory.Reservation(ctx, v.OrderID); !notFound(err) {
			t.Errorf("reservation of a sold-out order: err = %v, want not found", err)
		}
		if b := s.balance(t, cust); b != 100000 {
			t.Errorf("balance = %d, want 100000", b)
		}
	})
	t.Run("a declined card is PaymentDeclined, and the stock comes back", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		sku := s.newProduct(t, 1000, 5)
		v := s.place(t, orderRequest(cust, "pm_card_declined", "US", sku+":2"))
		s.note("payment-declined", v.OrderID)
		wantRejected(t, v, saga.StepChargePayment, saga.PaymentDeclined)
		if p := s.product(t, sku); p.Available != 5 || p.Reserved != 0 {
			t.Errorf("%s = %+v, want the stock restored", sku, p)
		}
		if r, err := s.inventory.Reservation(ctx, v.OrderID); err != nil || r.Status != inventory.Released {
			t.Errorf("reservation = %+v, %v; want RELEASED", r, err)
		}
		if b := s.balance(t, cust); b != 100000 {
			t.Errorf("balance = %d, want 100000", b)
		}
	})
	t.Run("an unserved country is ShippingUnavailable: refunded, stock back, no shipment", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		sku := s.newProduct(t, 2500, 5)
		v := s.place(t, orderRequest(cust, "pm_card_visa", "XX", sku+":1"))
		s.note("shipping-unavailable", v.OrderID)
		wantRejected(t, v, saga.StepScheduleShipping, saga.ShippingUnavailable)
		if p, err := s.payments.Payment(ctx, v.OrderID); err != nil || p.Status != payment.Refunded {
			t.Errorf("payment = %+v, %v; want REFUNDED", p, err)
		}
		if b := s.balance(t, cust); b != 100000 {
			t.Errorf("balance = %d, want 100000 after the refund", b)
		}
		if p := s.product(t, sku); p.Available != 5 || p.Reserved != 0 {
			t.Errorf("%s = %+v, want the stock restored", sku, p)
		}
		if sh, err := s.shipping.Shipment(ctx, v.OrderID); err == nil && sh.Status == shipping.Scheduled {
			t.Errorf("shipment = %+v, want none scheduled", sh)
		}
		for _, step := range []saga.Step{saga.StepCreateOrder, saga.StepReserveInventory, saga.StepChargePayment} {
			if got := stepStatus(v, step); got != saga.StepCompensated {
				t.Errorf("step %s = %s, want COMPENSATED", step, got)
			}
		}
	})
}

func wantRejected(t *testing.T, v app.OrderView, step saga.Step, errType string) {
	t.Helper()
	if v.Status != saga.StatusRejected || v.Failure == nil || v.Failure.Type != errType || v.Failure.Step != step {
		t.Fatalf("order = %s, failure %+v; want REJECTED with %s at %s", v.Status, v.Failure, errType, step)
	}
}

func TestFlakyCardIsRetriedAndChargedOnce(t *testing.T) { each(t, flakyCardChargedOnce) }

func flakyCardChargedOnce(t *testing.T, s *stack) {
	cust := s.newCustomer(t, 100000)
	v := s.place(t, orderRequest(cust, "pm_card_flaky", "US", "SKU-MUG:1"))
	s.note("flaky-card", v.OrderID)
	if v.Status != saga.StatusCompleted {
		t.Fatalf("order = %s %+v, want COMPLETED", v.Status, v.Failure)
	}
	p, err := s.payments.Payment(context.Background(), v.OrderID)
	if err != nil || p.Status != payment.Charged || p.Attempts != 3 {
		t.Errorf("payment = %+v, %v; want CHARGED on the 3rd attempt", p, err)
	}
	if b := s.balance(t, cust); b != 100000-800 {
		t.Errorf("balance = %d, want 99200 (charged once)", b)
	}
	for _, st := range v.Steps {
		if st.Name == saga.StepChargePayment && st.Attempts != 3 {
			t.Errorf("ChargePayment attempts = %d, want 3", st.Attempts)
		}
	}
}

func TestIdempotencyKey(t *testing.T) { each(t, idempotencyKey) }

func idempotencyKey(t *testing.T, s *stack) {
	cust := s.newCustomer(t, 100000)
	key := "key-" + randomHex(6)
	req := orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:1")

	first := s.call(t, http.MethodPost, "/v1/orders?wait=20s", req, "Idempotency-Key", key)
	if first.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	second := s.call(t, http.MethodPost, "/v1/orders", req, "Idempotency-Key", key)
	if second.status != http.StatusOK {
		t.Fatalf("second: %d %s, want 200", second.status, second.body)
	}
	a, b := first.view(t), second.view(t)
	if a.OrderID != b.OrderID || a.RunID != b.RunID || b.Status != saga.StatusCompleted {
		t.Errorf("second answer = %s/%s %s, want the first order %s/%s", b.OrderID, b.RunID, b.Status, a.OrderID, a.RunID)
	}
	if loc := second.header.Get("Location"); loc != "/v1/orders/"+a.OrderID {
		t.Errorf("Location = %q", loc)
	}
	if bal := s.balance(t, cust); bal != 100000-800 {
		t.Errorf("balance = %d, want charged once", bal)
	}

	other := orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:2")
	third := s.call(t, http.MethodPost, "/v1/orders", other, "Idempotency-Key", key)
	if third.status != http.StatusUnprocessableEntity || third.problem(t).Code != "IdempotencyKeyReused" {
		t.Errorf("same key, other body: %d %s, want 422 IdempotencyKeyReused", third.status, third.body)
	}
	// Another customer's identical key is another order, not a 422 about this one.
	stranger := s.newCustomer(t, 100000)
	theirs := s.call(t, http.MethodPost, "/v1/orders?wait=20s", orderRequest(stranger, "pm_card_visa", "US", "SKU-MUG:2"), "Idempotency-Key", key)
	if theirs.status != http.StatusAccepted || theirs.view(t).OrderID == a.OrderID || theirs.view(t).CustomerID != stranger {
		t.Errorf("the same key from another customer: %d %s, want 202 with a new order", theirs.status, theirs.body)
	}
	sameID := orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:2")
	sameID.OrderID = a.OrderID
	fourth := s.call(t, http.MethodPost, "/v1/orders", sameID)
	if fourth.status != http.StatusConflict || fourth.problem(t).Code != "OrderExists" {
		t.Errorf("same order ID, other body: %d %s, want 409 OrderExists", fourth.status, fourth.body)
	}
}

func TestCancelWhileAStepIsSlow(t *testing.T) { each(t, cancelWhileAStepIsSlow) }

func cancelWhileAStepIsSlow(t *testing.T, s *stack) {
	ctx := context.Background()
	cust := s.newCustomer(t, 100000)
	sku := s.newProduct(t, 1000, 5)
	fc := injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 3000, Operations: []string{"charge"}})

	r := s.call(t, http.MethodPost, "/v1/orders", orderRequest(cust, "pm_card_visa", "US", sku+":2"))
	if r.status != http.StatusAccepted {
		t.Fatalf("place: %d %s", r.status, r.body)
	}
	id := r.view(t).OrderID
	s.note("cancelled", id)
	s.await(t, id, 10*time.Second, "ChargePayment running", func(v app.OrderView) bool {
		return stepStatus(v, saga.StepChargePayment) == saga.StepRunning
	})
	c := s.call(t, http.MethodPost, "/v1/orders/"+id+"/cancel", map[string]string{"note": "changed my mind"})
	if c.status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s, want 202", c.status, c.body)
	}
	v := s.await(t, id, 20*time.Second, "CANCELLED", func(v app.OrderView) bool { return v.Status.Final() })
	if v.Status != saga.StatusCancelled {
		t.Fatalf("order = %s %+v, want CANCELLED", v.Status, v.Failure)
	}
	// The slow charge may land before or after its refund; either way nothing stays taken.
	if err := fc.Set(ctx, faults.Config{}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.payments.Payment(ctx, id); err != nil || (p.Status != payment.Refunded && p.Status != payment.Voided) {
		t.Errorf("payment = %+v, %v; want REFUNDED or VOIDED", p, err)
	}
	if p := s.product(t, sku); p.Available != 5 || p.Reserved != 0 {
		t.Errorf("%s = %+v, want the stock restored", sku, p)
	}
	if o, err := s.orders.Get(ctx, id); err != nil || string(o.Status) != "CANCELLED" {
		t.Errorf("order service has %v, %v; want CANCELLED", o.Status, err)
	}
	if sa := s.searchStatus(t, id); sa != "CANCELLED" {
		t.Errorf("OrderStatus search attribute = %s, want CANCELLED", sa)
	}
	// The charge request that was in flight finishes within its injected latency; once
	// it has, the balance must be whole again.
	deadline := time.Now().Add(10 * time.Second)
	for s.balance(t, cust) != 100000 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if b := s.balance(t, cust); b != 100000 {
		t.Errorf("balance = %d, want 100000", b)
	}

	again := s.call(t, http.MethodPost, "/v1/orders/"+id+"/cancel", nil)
	if again.status != http.StatusConflict || again.problem(t).Code != "InvalidOrderState" {
		t.Errorf("cancelling a cancelled order: %d %s, want 409", again.status, again.body)
	}
}

func TestCancelAfterCompletionIsRefused(t *testing.T) { each(t, cancelAfterCompletionIsRefused) }

func cancelAfterCompletionIsRefused(t *testing.T, s *stack) {
	v := s.place(t, orderRequest(s.newCustomer(t, 100000), "pm_card_visa", "US", "SKU-MUG:1"))
	r := s.call(t, http.MethodPost, "/v1/orders/"+v.OrderID+"/cancel", nil)
	if r.status != http.StatusConflict || r.problem(t).Code != "InvalidOrderState" {
		t.Errorf("cancel after completion: %d %s, want 409 InvalidOrderState", r.status, r.body)
	}
	if got := s.get(t, v.OrderID).Status; got != saga.StatusCompleted {
		t.Errorf("status = %s, want COMPLETED", got)
	}
}

// TestApprovalThroughTheAPI decides orders awaiting approval through the operator
// endpoints (RUNBOOK.md's test does it with the CLI's signals).
func TestApprovalThroughTheAPI(t *testing.T) { each(t, approvalThroughTheAPI) }

func approvalThroughTheAPI(t *testing.T, s *stack) {
	final := func(v app.OrderView) bool { return v.Status.Final() }
	sku := s.newProduct(t, 120000, 4) // $1,200.00: at least the approval threshold

	cust := s.newCustomer(t, 500000)
	v := s.place(t, orderRequest(cust, "pm_card_visa", "US", sku+":1"))
	if v.Status != saga.StatusAwaitingApproval {
		t.Fatalf("a $1,200 order is %s, want AWAITING_APPROVAL", v.Status)
	}
	s.decide(t, v.OrderID, "approve", map[string]string{"by": "alice"})
	if done := s.await(t, v.OrderID, 20*time.Second, "completion", final); done.Status != saga.StatusCompleted {
		t.Errorf("after approval: %s %+v, want COMPLETED", done.Status, done.Failure)
	}
	if b := s.balance(t, cust); b != 500000-120000 {
		t.Errorf("balance = %d, want charged once after approval", b)
	}

	cust = s.newCustomer(t, 500000)
	v = s.place(t, orderRequest(cust, "pm_card_visa", "US", sku+":1"))
	s.decide(t, v.OrderID, "reject", map[string]string{"by": "alice", "note": "suspected fraud"})
	wantRejected(t, s.await(t, v.OrderID, 20*time.Second, "rejection", final), saga.StepApproval, saga.ApprovalRejected)
	if p := s.product(t, sku); p.Available != 3 || p.Reserved != 1 {
		t.Errorf("%s = %+v, want the rejected order's unit back (one sold)", sku, p)
	}
	if b := s.balance(t, cust); b != 500000 {
		t.Errorf("balance = %d, want nothing charged for a rejected order", b)
	}
}

// TestNeedsAttentionRetriedThroughTheAPI: a refund that fails past its retries leaves the
// order NEEDS_ATTENTION with the stock still reserved; once the cause is fixed, the
// operator's retry-compensations finishes the undo.
func TestNeedsAttentionRetriedThroughTheAPI(t *testing.T) {
	each(t, needsAttentionRetriedThroughTheAPI)
}

func needsAttentionRetriedThroughTheAPI(t *testing.T, s *stack) {
	cust := s.newCustomer(t, 100000)
	sku := s.newProduct(t, 1500, 5)
	fc := injectFaults(t, s.payments.Faults(), faults.Config{ErrorRate: 1, Operations: []string{"refund"}})
	v := s.place(t, orderRequest(cust, "pm_card_visa", "XX", sku+":2"))
	if v.Status != saga.StatusNeedsAttention || v.Attention == nil || v.Attention.Step != saga.StepChargePayment {
		t.Fatalf("order = %s, attention %+v; want NEEDS_ATTENTION on the refund", v.Status, v.Attention)
	}
	if p := s.product(t, sku); p.Reserved != 2 {
		t.Errorf("while the refund is stuck %s = %+v: the stock stays reserved until the refund is done", sku, p)
	}
	if err := fc.Set(context.Background(), faults.Config{}); err != nil {
		t.Fatal(err)
	}
	s.decide(t, v.OrderID, "retry-compensations", map[string]string{"by": "alice"})
	done := s.await(t, v.OrderID, 20*time.Second, "the end", func(v app.OrderView) bool { return v.Status.Final() })
	wantRejected(t, done, saga.StepScheduleShipping, saga.ShippingUnavailable)
	if b := s.balance(t, cust); b != 100000 {
		t.Errorf("balance = %d, want 100000 (refunded)", b)
	}
	if p := s.product(t, sku); p.Available != 5 || p.Reserved != 0 {
		t.Errorf("%s = %+v, want the stock back", sku, p)
	}
}

// sagaScenarios are the saga's end-to-end scenarios that hold on any profile: each runs
// on every stack of the dev server through its own Test function, and on the cluster
// profile through TestClusterSaga.
var sagaScenarios = []struct {
	name string
	run  func(*testing.T, *stack)
}{
	{"completes", orderCompletes},
	{"rejected", orderRejected},
	{"flaky card charged once", flakyCardChargedOnce},
	{"idempotency key", idempotencyKey},
	{"cancel while a step is slow", cancelWhileAStepIsSlow},
	{"cancel after completion is refused", cancelAfterCompletionIsRefused},
	{"approval through the API", approvalThroughTheAPI},
	{"needs attention, retried through the API", needsAttentionRetriedThroughTheAPI},
	{"coupons", coupons},
	{"events per outcome", eventsPerOutcome},
	{"bad input is a 4xx problem", badInputIsA4xxProblem},
}

func TestWorkerKilledMidSaga(t *testing.T) {
	each(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		cust := s.newCustomer(t, 100000)
		fc := injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 1500, Operations: []string{"charge"}})

		r := s.call(t, http.MethodPost, "/v1/orders", orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:3"))
		if r.status != http.StatusAccepted {
			t.Fatalf("place: %d %s", r.status, r.body)
		}
		id := r.view(t).OrderID
		s.await(t, id, 10*time.Second, "ChargePayment running", func(v app.OrderView) bool {
			return stepStatus(v, saga.StepChargePayment) == saga.StepRunning
		})
		s.killWorker() // SIGKILL while the charge is in flight
		if err := fc.Set(ctx, faults.Config{}); err != nil {
			t.Fatal(err)
		}
		if err := s.startWorker(); err != nil {
			t.Fatal(err)
		}
		// The lost attempt times out (10s) and is retried by the new worker.
		v := s.await(t, id, 60*time.Second, "the saga to finish", func(v app.OrderView) bool { return v.Status.Final() })
		if v.Status != saga.StatusCompleted {
			t.Fatalf("order = %s %+v, want COMPLETED", v.Status, v.Failure)
		}
		if b := s.balance(t, cust); b != 100000-3*800 {
			t.Errorf("balance = %d, want %d: charged exactly once", b, 100000-3*800)
		}
		p, err := s.payments.Payment(ctx, id)
		if err != nil || p.Status != payment.Charged {
			t.Errorf("payment = %+v, %v; want CHARGED", p, err)
		}
	})
}

func TestBadInputIsA4xxProblem(t *testing.T) { each(t, badInputIsA4xxProblem) }

func badInputIsA4xxProblem(t *testing.T, s *stack) {
	valid := `{"customerId":"cust-1","items":[{"sku":"SKU-BOOK","quantity":1}],"paymentMethod":"pm_card_visa",` +
		`"shippingAddress":{"name":"A","line1":"B","city":"C","postalCode":"1","country":"US"}}`
	cases := []struct {
		name, path, body, contentType string
		status                        int
		code                          string
	}{
		{"malformed JSON", "/v1/orders", `{"customerId":`, "application/json", 400, "MalformedRequest"},
		{"a form body", "/v1/orders", "customerId=cust-1", "application/x-www-form-urlencoded", 415, "UnsupportedMediaType"},
		{"zero quantity", "/v1/orders", `{"customerId":"cust-1","items":[{"sku":"SKU-BOOK","quantity":0}],"paymentMethod":"pm_card_visa","shippingAddress":{"name":"A","line1":"B","city":"C","postalCode":"1","country":"US"}}`, "application/json", 422, "ValidationFailed"},
		{"no items", "/v1/orders", `{"customerId":"cust-1","items":[],"paymentMethod":"pm_card_visa","shippingAddress":{"name":"A","line1":"B","city":"C","postalCode":"1","country":"US"}}`, "application/json", 422, "ValidationFailed"},
		{"no address", "/v1/orders", `{"customerId":"cust-1","items":[{"sku":"SKU-BOOK","quantity":1}],"paymentMethod":"pm_card_visa"}`, "application/json", 422, "ValidationFailed"},
		{"an unknown SKU", "/v1/orders", `{"customerId":"cust-1","items":[{"sku":"SKU-NOPE","quantity":1}],"paymentMethod":"pm_card_visa","shippingAddress":{"name":"A","line1":"B","city":"C","postalCode":"1","country":"US"}}`, "application/json", 422, "UnknownProduct"},
		{"a wait over 30s", "/v1/orders?wait=1m", valid, "application/json", 422, "ValidationFailed"},
		{"a malformed coupon code", "/v1/orders", strings.Replace(valid, `"paymentMethod"`, `"couponCode":"welcome 10","paymentMethod"`, 1), "application/json", 422, "ValidationFailed"},
		{"a body over 1 MiB", "/v1/orders", `{"customerId":"` + bigString(1<<20+10) + `"}`, "application/json", 413, "RequestTooLarge"},
		{"an unknown order", "/v1/orders/nope-" + "x", "", "", 404, "OrderNotFound"},
		{"a bad list status", "/v1/orders?status=SHIPPED", "", "", 422, "ValidationFailed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method, body, headers := http.MethodGet, any(nil), []string{}
			if tc.body != "" {
				method, body = http.MethodPost, tc.body
			}
			if tc.contentType != "" {
				headers = append(headers, "Content-Type", tc.contentType)
			}
			r := s.call(t, method, tc.path, body, headers...)
			if r.status != tc.status || r.problem(t).Code != tc.code {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
}

func bigString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return string(b)
}

func TestWorkerDrainsOnSIGTERM(t *testing.T) {
	each(t, func(t *testing.T, s *stack) {
		cust := s.newCustomer(t, 100000)
		injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 1500, Operations: []string{"charge"}})
		r := s.call(t, http.MethodPost, "/v1/orders", orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:1"))
		id := r.view(t).OrderID
		s.await(t, id, 10*time.Second, "ChargePayment running", func(v app.OrderView) bool {
			return stepStatus(v, saga.StepChargePayment) == saga.StepRunning
		})
		s.mu.Lock()
		old := s.worker
		s.mu.Unlock()
		if err := old.Stop(30 * time.Second); err != nil { // SIGTERM: finish the charge, then exit
			t.Fatalf("worker stop: %v", err)
		}
		if err := s.startWorker(); err != nil {
			t.Fatal(err)
		}
		v := s.await(t, id, 30*time.Second, "the saga to finish", func(v app.OrderView) bool { return v.Status.Final() })
		if v.Status != saga.StatusCompleted {
			t.Fatalf("order = %s %+v, want COMPLETED", v.Status, v.Failure)
		}
		// The stopping worker finished the charge it had started: no second attempt.
		for _, st := range v.Steps {
			if st.Name == saga.StepChargePayment && st.Attempts != 1 {
				t.Errorf("ChargePayment took %d attempts, want 1 (the draining worker completed it)", st.Attempts)
			}
		}
		if b := s.balance(t, cust); b != 100000-800 {
			t.Errorf("balance = %d, want charged once", b)
		}
	})
}
