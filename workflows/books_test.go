package workflows_test

// Regression tests of the issue "Exact money and stock under concurrency", for the defects
// that live in the workflow. Each test is named after its defect.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// Defect 4: a long or multi-line note parked an order for good.
func TestLongOrMultiLineNotesNeverParkAnOrder(t *testing.T) {
	t.Run("a cancel with a 1000-character note ends CANCELLED with the reason cut to the service's limit", func(t *testing.T) {
		h := newHarness(t)
		h.env.OnActivity("ChargePayment", mock.Anything, mock.Anything).After(5*time.Second).Return(saga.Result{Attempt: 1}, nil)
		h.env.RegisterDelayedCallback(func() {
			h.update(saga.UpdateCancel, saga.Decision{By: "customer", Note: strings.Repeat("n", 1000)}, nil)
		}, time.Second)
		h.run(testOrder())
		h.wantOutcome("Canceled", saga.StatusCancelled)
		h.wantCompensations("RefundPayment", "ReleaseInventory", "CancelOrder")
		for _, r := range h.fakes.reasons {
			if n := len([]rune(r)); n > domain.Reason.Max {
				t.Errorf("reason of %d characters reached the order service, limit %d", n, domain.Reason.Max)
			}
		}
	})
	t.Run("a reject signal with a two-line note ends REJECTED, the note on one line", func(t *testing.T) {
		h := newHarness(t)
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(saga.SignalReject, saga.Decision{By: "bob", Note: "fraud check\nfailed twice"})
		}, time.Minute)
		h.run(bigOrder())
		h.wantOutcome(saga.ApprovalRejected, saga.StatusRejected)
		h.wantCompensations("ReleaseInventory", "CancelOrder")
		if f := h.state().Failure; f == nil || f.Message != "rejected by bob: fraud check failed twice" {
			t.Errorf("failure = %+v, want the note on one line", f)
		}
	})
	t.Run("a signal whose payload is not a decision is ignored, with an event saying why", func(t *testing.T) {
		h := newHarness(t)
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(saga.SignalApprove, json.RawMessage(`{"by":"mallory","reason":"typo"}`))
		}, time.Minute)
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(saga.SignalApprove, saga.Decision{By: "alice"})
		}, 2*time.Minute)
		h.run(bigOrder())
		h.wantOutcome("", saga.StatusCompleted)
		s := h.state()
		if st := s.Step(saga.StepApproval); st.Detail != "approved by alice" {
			t.Errorf("approval = %q, want approved by alice (the malformed approve ignored)", st.Detail)
		}
		var actions []string
		for _, e := range s.Events {
			actions = append(actions, e.Action)
		}
		if len(s.Events) != 2 || s.Events[0].Action != "ignored" || !strings.Contains(s.Events[0].Note, `"reason"`) {
			t.Errorf("events = %v (%+v), want [ignored approve], the first naming the bad field", actions, s.Events)
		}
	})
	t.Run("resolve-manually leaves the order in the order service in its final status", func(t *testing.T) {
		h := newHarness(t)
		h.fakes.failNext("ChargePayment", payment.ErrPaymentDeclined)
		h.fakes.failAlways("CancelOrder", unavailable("the order service is down"))
		h.env.RegisterDelayedCallback(func() {
			if s := h.state(); s.Status != saga.StatusNeedsAttention {
				t.Errorf("status = %s, want NEEDS_ATTENTION", s.Status)
			}
			h.update(saga.UpdateResolveManually, saga.Decision{By: "ops", Note: "marked the order rejected by hand"}, nil)
		}, time.Hour)
		h.run(testOrder())
		h.wantOutcome(saga.PaymentDeclined, saga.StatusRejected)
		if got := h.fakes.statuses[len(h.fakes.statuses)-1]; got != "REJECTED:"+saga.PaymentDeclined {
			t.Errorf("the order service was last told %q, want REJECTED:PaymentDeclined", got)
		}
		var mirrored saga.OrderState
		if err := json.Unmarshal(h.fakes.state, &mirrored); err != nil || mirrored.Status != saga.StatusRejected {
			t.Errorf("the read model holds %s (%v), want the final REJECTED state", mirrored.Status, err)
		}
	})
}

// Defect 6: reusing an order ID after retention compensated another order's work.
func TestADuplicateOrderIDCompensatesNothing(t *testing.T) {
	cases := []struct {
		name     string
		step     string
		err      error
		errType  string
		compsRun []string
	}{
		{"CreateOrder refused as another order's ID", "CreateOrder", order.ErrConflict, saga.IdempotencyConflict, nil},
		{"CreateOrder refused because the ID's order was undone", "CreateOrder", order.ErrCompensated, saga.AlreadyCompensated, nil},
		{"ReserveInventory refused as another order's reservation", "ReserveInventory", inventory.ErrConflict, saga.IdempotencyConflict, []string{"CancelOrder"}},
		{"ChargePayment refused as another order's payment", "ChargePayment", payment.ErrConflict, saga.IdempotencyConflict, []string{"ReleaseInventory", "CancelOrder"}},
		{"ScheduleShipping refused as another order's shipment", "ScheduleShipping", shipping.ErrConflict, saga.IdempotencyConflict,
			[]string{"RefundPayment", "ReleaseInventory", "CancelOrder"}},
	}
	for _, tc := range cases {
		t.Run(tc.name+": undoes only this saga's earlier steps", func(t *testing.T) {
			h := newHarness(t)
			h.fakes.failNext(tc.step, tc.err)
			h.run(testOrder())
			h.wantOutcome(tc.errType, saga.StatusRejected)
			h.wantCompensations(tc.compsRun...)
		})
	}
}

// Defect 7: an ambiguous reserve attempt followed by OutOfStock registered no release.
func TestARefusalAfterAnAmbiguousAttemptIsCompensated(t *testing.T) {
	t.Run("OutOfStock after a reserve attempt that failed releases the reservation too", func(t *testing.T) {
		h := newHarness(t)
		h.fakes.failNext("ReserveInventory", unavailable("the first attempt's answer was lost"), inventory.ErrOutOfStock)
		h.run(testOrder())
		h.wantOutcome(saga.OutOfStock, saga.StatusRejected)
		h.wantCompensations("ReleaseInventory", "CancelOrder")
	})
	t.Run("OutOfStock on the first attempt releases nothing", func(t *testing.T) {
		h := newHarness(t)
		h.fakes.failNext("ReserveInventory", inventory.ErrOutOfStock)
		h.run(testOrder())
		h.wantOutcome(saga.OutOfStock, saga.StatusRejected)
		h.wantCompensations("CancelOrder")
	})
	t.Run("a decline after a charge attempt that failed refunds (a no-op) too", func(t *testing.T) {
		h := newHarness(t)
		h.fakes.failNext("ChargePayment", unavailable("timeout"), payment.ErrInsufficientFunds)
		h.run(testOrder())
		h.wantOutcome(saga.InsufficientFunds, saga.StatusRejected)
		h.wantCompensations("RefundPayment", "ReleaseInventory", "CancelOrder")
	})
}

// Defect 8: a zero-priced order was always rejected at ChargePayment.
func TestAFreeOrderSkipsTheCharge(t *testing.T) {
	free := func() saga.OrderInput {
		in := testOrder()
		in.Items = []saga.Item{{SKU: "SKU-SAMPLE", Quantity: 2, UnitPriceCents: 0}}
		in.TotalCents = 0
		return in
	}
	t.Run("it completes without calling the payment service", func(t *testing.T) {
		h := newHarness(t)
		h.run(free())
		h.wantOutcome("", saga.StatusCompleted)
		if n := h.fakes.count("ChargePayment"); n != 0 {
			t.Errorf("ChargePayment called %d times for a free order", n)
		}
		if st := h.state().Step(saga.StepChargePayment); st.Status != saga.StepSkipped {
			t.Errorf("ChargePayment = %s, want SKIPPED", st.Status)
		}
	})
	t.Run("a failure after it refunds nothing", func(t *testing.T) {
		h := newHarness(t)
		h.fakes.failNext("ScheduleShipping", shipping.ErrShippingUnavailable)
		h.run(free())
		h.wantOutcome(saga.ShippingUnavailable, saga.StatusRejected)
		h.wantCompensations("ReleaseInventory", "CancelOrder")
	})
}

// Defect 9: the read model (the order service's copy) ends where the saga ended.
func TestTheReadModelHoldsTheFinalState(t *testing.T) {
	h := newHarness(t)
	h.run(testOrder())
	var mirrored saga.OrderState
	if err := json.Unmarshal(h.fakes.state, &mirrored); err != nil {
		t.Fatal(err)
	}
	final := h.state()
	if mirrored.Status != saga.StatusCompleted || mirrored.Version != final.Version ||
		mirrored.Step(saga.StepConfirmOrder).Status != saga.StepCompleted {
		t.Errorf("read model = %s v%d, want the final state %s v%d", mirrored.Status, mirrored.Version, final.Status, final.Version)
	}
}

// From saga revision 3 the confirm carries the final state to the read model: one call,
// no separate mirror, and the read model holds exactly the state the workflow ended with.
func TestTheConfirmCarriesTheFinalState(t *testing.T) {
	placed := func() saga.OrderInput {
		in := testOrder()
		in.Revision = saga.Revision
		in.Policy.StatusMirror = saga.MirrorMilestones
		return in
	}
	t.Run("in the confirm itself", func(t *testing.T) {
		h := newHarness(t)
		h.run(placed())
		h.wantOutcome("", saga.StatusCompleted)
		if h.fakes.syncs != 0 || !slices.Equal(h.fakes.statuses, []string{"COMPLETED:"}) {
			t.Errorf("%d status mirrors, statuses %v; want none beside the confirm, which carried COMPLETED", h.fakes.syncs, h.fakes.statuses)
		}
		wantReadModelIs(t, h)
	})
	t.Run("again after a retried confirm, whose view counted one attempt", func(t *testing.T) {
		h := newHarness(t)
		h.fakes.failNext("ConfirmOrder", unavailable("the first attempt did not arrive"))
		h.run(placed())
		h.wantOutcome("", saga.StatusCompleted)
		if h.fakes.syncs != 1 {
			t.Errorf("%d status mirrors after the confirm, want 1", h.fakes.syncs)
		}
		if got := h.state().Step(saga.StepConfirmOrder).Attempts; got != 2 {
			t.Errorf("confirm attempts = %d, want 2", got)
		}
		wantReadModelIs(t, h)
	})
}

// A view larger than the order service keeps must not fail the point of no return: the
// order completes with the plain confirm.
func TestAnOversizedViewDoesNotFailTheConfirm(t *testing.T) {
	in := testOrder()
	in.Revision = saga.Revision
	in.Policy.StatusMirror = saga.MirrorMilestones
	for i := range 10000 {
		in.Items = append(in.Items, saga.Item{SKU: fmt.Sprintf("SKU-%05d", i), Quantity: 1, UnitPriceCents: 1})
	}
	h := newHarness(t)
	h.run(in)
	h.wantOutcome("", saga.StatusCompleted)
	if n := h.fakes.count("ConfirmOrder"); n != 1 {
		t.Errorf("%d confirms, want 1", n)
	}
}

// wantReadModelIs checks that the order service holds the workflow's final state, byte
// for byte as the workflow marshals it.
func wantReadModelIs(t *testing.T, h *harness) {
	t.Helper()
	var result saga.OrderState
	if err := h.env.GetWorkflowResult(&result); err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(result)
	if err != nil {
		t.Fatal(err)
	}
	if string(h.fakes.state) != string(want) {
		t.Errorf("read model holds\n%s\nwant the final state\n%s", h.fakes.state, want)
	}
}

// Defect 5: waiting with await-settled costs one update, with no timer.
func TestAwaitSettledAnswersOnceTheOrderSettles(t *testing.T) {
	h := newHarness(t)
	var got saga.OrderState
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(saga.UpdateAwaitSettled, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("await-settled refused: %v", err) },
			OnComplete: func(v any, err error) {
				if err != nil {
					t.Errorf("await-settled failed: %v", err)
					return
				}
				got = v.(saga.OrderState)
			},
		})
	}, 0)
	h.run(bigOrder())
	if got.Status != saga.StatusAwaitingApproval && got.Status != saga.StatusRejected {
		t.Errorf("await-settled answered %s, want AWAITING_APPROVAL (the first settled state)", got.Status)
	}
}
