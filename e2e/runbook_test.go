package e2e

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/codec"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// runbook runs the command blocks of RUNBOOK.md against a stack.
type runbook struct {
	blocks map[string]string
	used   map[string]bool
	s      *stack
	// deployedAt is DEPLOYED_AT, the time a deploy started, for the blocks about deploys.
	deployedAt string
}

var runbookBlock = regexp.MustCompile("^```sh runbook=([a-z-]+)$")

func readRunbook(t *testing.T, s *stack) *runbook {
	t.Helper()
	f, err := os.Open(filepath.Join(env.root, "RUNBOOK.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rb := &runbook{blocks: map[string]string{}, used: map[string]bool{}, s: s}
	var name string
	var body strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case name == "":
			if m := runbookBlock.FindStringSubmatch(line); m != nil {
				name = m[1]
				body.Reset()
			}
		case line == "```":
			if _, dup := rb.blocks[name]; dup {
				t.Errorf("RUNBOOK.md has two blocks named %s", name)
			}
			rb.blocks[name] = body.String()
			name = ""
		default:
			body.WriteString(line + "\n")
		}
	}
	if len(rb.blocks) == 0 {
		t.Fatal("RUNBOOK.md has no runbook blocks")
	}
	return rb
}

// run runs a block with bash, in the repository, with the stack's addresses and orderID
// in the environment, and returns what it printed. The block must succeed.
func (rb *runbook) run(t *testing.T, name, orderID, customerID string) string {
	t.Helper()
	script, ok := rb.blocks[name]
	if !ok {
		t.Fatalf("RUNBOOK.md has no block runbook=%s", name)
	}
	rb.used[name] = true
	// Every command runs as RUNBOOK.md says: with the CLI opening payloads through the
	// API's codec server.
	rb.used["codec-env"] = true
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", rb.blocks["codec-env"]+script)
	cmd.Dir = env.root
	cmd.Env = append(os.Environ(),
		"TEMPORAL_ADDRESS="+env.tempAddr, "TEMPORAL_NAMESPACE=default",
		"ORDER_ID="+orderID, "CUSTOMER_ID="+customerID, "DEPLOYED_AT="+rb.deployedAt,
		"API="+rb.s.apiURL, "TOKEN="+operatorToken, "SERVICE_TOKEN="+serviceToken,
		"ORDER_URL="+rb.s.urls[config.Order], "INVENTORY_URL="+rb.s.urls[config.Inventory],
		"PAYMENT_URL="+rb.s.urls[config.Payment], "SHIPPING_URL="+rb.s.urls[config.Shipping],
		"NATS_URL="+rb.s.natsURL,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runbook %s failed: %v\n%s", name, err, out)
	}
	return string(out)
}

// runUntil runs a block until its output contains want (list queries read visibility,
// which lags a moment behind the workflow).
func (rb *runbook) runUntil(t *testing.T, name, orderID, customerID, want string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := rb.run(t, name, orderID, customerID)
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("runbook %s never printed %q; last output:\n%s", name, want, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s printed no %q:\n%s", what, w, out)
		}
	}
}

// TestRunbook runs every command of RUNBOOK.md and checks its effect.
func TestRunbook(t *testing.T) {
	s := env.stacks[0]
	rb := readRunbook(t, s)
	ctx := context.Background()
	final := func(v app.OrderView) bool { return v.Status.Final() }
	placeBig := func(t *testing.T, cust string) app.OrderView {
		v := s.place(t, orderRequest(cust, "pm_card_visa", "US", "SKU-LAPTOP:1"))
		if v.Status != saga.StatusAwaitingApproval {
			t.Fatalf("a $1,200 order is %s, want AWAITING_APPROVAL", v.Status)
		}
		return v
	}

	t.Run("registering the search attributes again changes nothing", func(t *testing.T) {
		out := rb.run(t, "register-search-attributes", "", "")
		if strings.Count(out, "Search attributes have been added") != 2 {
			t.Errorf("output:\n%s", out)
		}
	})

	t.Run("an order awaiting approval is found, described, queried and approved by signal", func(t *testing.T) {
		cust := s.newCustomer(t, 500000)
		v := placeBig(t, cust)
		env.recording.note("approved", v.OrderID)
		wid := saga.WorkflowID(v.OrderID)
		rb.runUntil(t, "list-by-customer", v.OrderID, cust, wid)
		count := rb.run(t, "count-awaiting-approval", v.OrderID, cust)
		if !regexp.MustCompile(`Total: [1-9]`).MatchString(count) {
			t.Errorf("count-awaiting-approval printed:\n%s", count)
		}
		mustContain(t, "describe", rb.run(t, "describe", v.OrderID, cust),
			"StaticSummary", "Order "+v.OrderID+": $1,200.00 for "+cust, "| SKU-LAPTOP | 1 | $1,200.00 |")
		mustContain(t, "history", rb.run(t, "history", v.OrderID, cust),
			"userMetadata.summary: Reserve 1× SKU-LAPTOP", "userMetadata.summary: Approval deadline")
		mustContain(t, "query-status", rb.run(t, "query-status", v.OrderID, cust), "AWAITING_APPROVAL", "ReserveInventory")

		mustContain(t, "approve", rb.run(t, "approve", v.OrderID, cust), "Signal workflow succeeded")
		done := s.await(t, v.OrderID, 20*time.Second, "completion", final)
		if done.Status != saga.StatusCompleted || s.balance(t, cust) != 500000-120000 {
			t.Errorf("after approve: %s, balance %d; want COMPLETED and charged", done.Status, s.balance(t, cust))
		}
		mustContain(t, "history after approval", rb.run(t, "history", v.OrderID, cust),
			"userMetadata.summary: Charge $1,200.00 to "+cust)
	})

	t.Run("a reject signal rejects the order and releases its stock", func(t *testing.T) {
		cust := s.newCustomer(t, 500000)
		before := s.product(t, "SKU-LAPTOP")
		v := placeBig(t, cust)
		env.recording.note("approval-rejected", v.OrderID)
		mustContain(t, "reject", rb.run(t, "reject", v.OrderID, cust), "Signal workflow succeeded")
		done := s.await(t, v.OrderID, 20*time.Second, "rejection", final)
		wantRejected(t, done, saga.StepApproval, saga.ApprovalRejected)
		if after := s.product(t, "SKU-LAPTOP"); after.Available != before.Available || after.Reserved != before.Reserved {
			t.Errorf("SKU-LAPTOP went from %+v to %+v, want the stock back", before, after)
		}
	})

	t.Run("count-open-since counts the orders started since a deploy that are still open", func(t *testing.T) {
		cust := s.newCustomer(t, 500000)
		rb.deployedAt = time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
		v := placeBig(t, cust)
		rb.runUntil(t, "count-open-since", v.OrderID, cust, "Total: 1")
		mustContain(t, "reject", rb.run(t, "reject", v.OrderID, cust), "Signal workflow succeeded")
		s.await(t, v.OrderID, 20*time.Second, "rejection", final)
		rb.runUntil(t, "count-open-since", v.OrderID, cust, "Total: 0")
	})

	t.Run("coupons shows a customer's coupons and an order's redemption", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		if _, err := s.payments.UpsertCoupon(ctx, cust, "WELCOME10", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 10}); err != nil {
			t.Fatal(err)
		}
		req := orderRequest(cust, "pm_card_visa", "US", "SKU-BOOK:2")
		req.CouponCode = "WELCOME10"
		v := s.place(t, req)
		if v.Status != saga.StatusCompleted {
			t.Fatalf("order = %s %+v", v.Status, v.Failure)
		}
		mustContain(t, "coupons", rb.run(t, "coupons", v.OrderID, cust), `"code":"WELCOME10"`, `"status":"REDEEMED"`,
			`"orderId":"`+v.OrderID+`"`, `"discountCents":300`)
		mustContain(t, "history", rb.run(t, "history", v.OrderID, cust),
			"userMetadata.summary: Redeem WELCOME10 for "+cust+" on $30.00", "userMetadata.summary: Charge $27.00 to "+cust)
		mustContain(t, "events", rb.runUntil(t, "events", v.OrderID, cust, "OrderConfirmed"),
			"OrderCreated", "StockReserved", "CouponRedeemed", "PaymentCharged", "ShipmentScheduled", "OrderConfirmed",
			`"status":"CHARGED"`, `ordersaga_outbox_backlog{service="payment"}`, `ordersaga_outbox_relay_leader{service="shipping"} 1`)
	})

	t.Run("order data is sealed; a new payload key is made as the runbook says", func(t *testing.T) {
		cust := s.newCustomer(t, 500000)
		v := placeBig(t, cust)
		if n, err := strconv.Atoi(strings.TrimSpace(rb.run(t, "show-sealed", v.OrderID, cust))); err != nil || n < 3 {
			t.Errorf("show-sealed counted %d sealed payloads (%v), want the input, the activities' and more", n, err)
		}
		key := strings.TrimSpace(rb.run(t, "new-payload-key", "", ""))
		c, err := codec.Parse(key)
		if err != nil || c == nil || !slices.Equal(c.KeyIDs(), []string{"k2"}) {
			t.Errorf("new-payload-key printed %q: %v", key, err)
		}
		mustContain(t, "reject", rb.run(t, "reject", v.OrderID, cust), "Signal workflow succeeded")
		s.await(t, v.OrderID, 20*time.Second, "rejection", final)
	})

	t.Run("the API's approve endpoint approves with an operator token", func(t *testing.T) {
		cust := s.newCustomer(t, 500000)
		v := placeBig(t, cust)
		mustContain(t, "api-approve", rb.run(t, "api-approve", v.OrderID, cust), `"action":"approve"`, `"by":"alice"`)
		if done := s.await(t, v.OrderID, 20*time.Second, "completion", final); done.Status != saga.StatusCompleted {
			t.Errorf("after api-approve: %s", done.Status)
		}
	})

	t.Run("temporal workflow cancel compensates and ends CANCELLED", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		sku := s.newProduct(t, 1000, 4)
		injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 2000, Operations: []string{"charge"}})
		r := s.call(t, http.MethodPost, "/v1/orders", orderRequest(cust, "pm_card_visa", "US", sku+":3"))
		id := r.view(t).OrderID
		s.await(t, id, 10*time.Second, "ChargePayment running", func(v app.OrderView) bool {
			return stepStatus(v, saga.StepChargePayment) == saga.StepRunning
		})
		mustContain(t, "cancel", rb.run(t, "cancel", id, cust), "Canceled workflow")
		v := s.await(t, id, 20*time.Second, "the end", final)
		if v.Status != saga.StatusCancelled {
			t.Fatalf("after cancel: %s %+v", v.Status, v.Failure)
		}
		if p := s.product(t, sku); p.Available != 4 || p.Reserved != 0 {
			t.Errorf("%s = %+v, want the stock back", sku, p)
		}
		if p, err := s.payments.Payment(ctx, id); err != nil || (p.Status != payment.Refunded && p.Status != payment.Voided) {
			t.Errorf("payment = %+v, %v; want REFUNDED or VOIDED", p, err)
		}
		if n := len(v.Events); n == 0 || v.Events[n-1].By != "temporal" {
			t.Errorf("events = %+v, want the cancellation recorded as coming from Temporal", v.Events)
		}
	})

	t.Run("terminate does not compensate; undoing by hand does", func(t *testing.T) {
		cust := s.newCustomer(t, 500000)
		before := s.product(t, "SKU-LAPTOP")
		v := placeBig(t, cust)
		mustContain(t, "terminate", rb.run(t, "terminate", v.OrderID, cust), "Workflow terminated")
		if p := s.product(t, "SKU-LAPTOP"); p.Reserved != before.Reserved+1 {
			t.Errorf("after terminate SKU-LAPTOP = %+v: the reservation should still be held", p)
		}
		rb.run(t, "undo-by-hand", v.OrderID, cust)
		if p := s.product(t, "SKU-LAPTOP"); p.Available != before.Available || p.Reserved != before.Reserved {
			t.Errorf("after undoing by hand SKU-LAPTOP = %+v, want %+v", p, before)
		}
		if o, err := s.orders.Get(ctx, v.OrderID); err != nil || o.Status != order.Cancelled {
			t.Errorf("order = %v, %v; want CANCELLED", o.Status, err)
		}
		if r, err := s.inventory.Reservation(ctx, v.OrderID); err != nil || r.Status != inventory.Released {
			t.Errorf("reservation = %+v, %v; want RELEASED", r, err)
		}
		if sh, err := s.shipping.Shipment(ctx, v.OrderID); err != nil || sh.Status != shipping.Voided {
			t.Errorf("shipment = %+v, %v; want a VOIDED tombstone", sh, err)
		}
	})

	// stuck places an order whose refund fails until fix-refunds, and waits for it to
	// need attention.
	stuck := func(t *testing.T, cust, sku string) app.OrderView {
		t.Helper()
		rb.run(t, "break-refunds", "", cust)
		t.Cleanup(func() { _ = s.payments.Faults().Set(ctx, faults.Config{}) })
		v := s.place(t, orderRequest(cust, "pm_card_visa", "XX", sku+":2"))
		if v.Status != saga.StatusNeedsAttention || v.Attention == nil || v.Attention.Step != saga.StepChargePayment {
			t.Fatalf("order = %s, attention %+v; want NEEDS_ATTENTION on the refund", v.Status, v.Attention)
		}
		return v
	}

	t.Run("a refund failing past its retries needs attention until retry-compensations", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		sku := s.newProduct(t, 1500, 5)
		v := stuck(t, cust, sku)
		env.recording.note("needs-attention-retried", v.OrderID)
		rb.runUntil(t, "list-by-status", v.OrderID, cust, saga.WorkflowID(v.OrderID))
		if p := s.product(t, sku); p.Reserved != 2 {
			t.Errorf("while the refund is stuck %s = %+v: the stock must stay reserved until the refund is done", sku, p)
		}
		rb.run(t, "fix-refunds", "", cust)
		mustContain(t, "retry-compensations", rb.run(t, "retry-compensations", v.OrderID, cust), "Signal workflow succeeded")
		done := s.await(t, v.OrderID, 20*time.Second, "the end", final)
		wantRejected(t, done, saga.StepScheduleShipping, saga.ShippingUnavailable)
		if b := s.balance(t, cust); b != 100000 {
			t.Errorf("balance = %d, want 100000 (refunded)", b)
		}
		if p := s.product(t, sku); p.Available != 5 || p.Reserved != 0 {
			t.Errorf("%s = %+v, want the stock back", sku, p)
		}
	})

	t.Run("resolve-manually records the operator's note and finishes the undo", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		sku := s.newProduct(t, 1500, 5)
		v := stuck(t, cust, sku)
		// The operator refunds outside the saga (here, straight at the payment service).
		rb.run(t, "fix-refunds", "", cust)
		if _, err := s.payments.Refund(ctx, v.OrderID); err != nil {
			t.Fatal(err)
		}
		rb.run(t, "resolve-manually", v.OrderID, cust)
		done := s.await(t, v.OrderID, 20*time.Second, "the end", final)
		wantRejected(t, done, saga.StepScheduleShipping, saga.ShippingUnavailable)
		var charge *saga.StepState
		for i := range done.Steps {
			if done.Steps[i].Name == saga.StepChargePayment {
				charge = &done.Steps[i]
			}
		}
		if charge == nil || charge.Compensation == nil || charge.Compensation.Detail != "resolved manually by alice: refunded by bank transfer" {
			t.Errorf("ChargePayment = %+v, want the manual resolution recorded", charge)
		}
		if p := s.product(t, sku); p.Available != 5 || p.Reserved != 0 {
			t.Errorf("%s = %+v, want the stock back", sku, p)
		}
	})

	t.Run("reset after a fix re-runs the last decision on a new run, which the operator then steers", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		sku := s.newProduct(t, 1500, 5)
		v := stuck(t, cust, sku)
		out := rb.run(t, "reset", v.OrderID, cust)
		after := s.await(t, v.OrderID, 20*time.Second, "a new run", func(n app.OrderView) bool { return n.RunID != v.RunID })
		mustContain(t, "reset", out, "Resetting workflow "+saga.WorkflowID(v.OrderID))
		mustContain(t, "describe after reset", rb.run(t, "describe", v.OrderID, cust), after.RunID)
		if after.Status != saga.StatusNeedsAttention {
			t.Errorf("after reset: %s, want still NEEDS_ATTENTION", after.Status)
		}
		rb.run(t, "fix-refunds", "", cust)
		rb.run(t, "retry-compensations", v.OrderID, cust)
		done := s.await(t, v.OrderID, 20*time.Second, "the end", final)
		wantRejected(t, done, saga.StepScheduleShipping, saga.ShippingUnavailable)
		if b := s.balance(t, cust); b != 100000 {
			t.Errorf("balance = %d, want 100000 (refunded once)", b)
		}
	})

	var unused []string
	for name := range rb.blocks {
		if !rb.used[name] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("RUNBOOK.md blocks not exercised by this test: %v", unused)
	}
}
