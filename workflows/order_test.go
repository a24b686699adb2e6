package workflows_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
	"github.com/ordersaga/ordersaga/worker"
)

// testOrder is a $30.00 order: below the approval threshold.
func testOrder() saga.OrderInput {
	return saga.OrderInput{
		Order: saga.Order{
			OrderID: "o-1", CustomerID: "cust-1",
			Items:      []saga.Item{{SKU: "SKU-BOOK", Quantity: 2, UnitPriceCents: 1500}},
			TotalCents: 3000, Currency: "USD", PaymentMethod: "pm_card_visa",
			ShippingAddress: saga.Address{Name: "Ada", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"},
		},
		Policy: saga.Policy{CompensationAttempts: 3},
	}
}

// bigOrder needs approval: its total reaches the default threshold.
func bigOrder() saga.OrderInput {
	in := testOrder()
	in.Items = []saga.Item{{SKU: "SKU-LAPTOP", Quantity: 1, UnitPriceCents: 120000}}
	in.TotalCents = 120000
	in.Policy.ApprovalTimeout = saga.Duration(time.Hour)
	return in
}

type harness struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	fakes   *fakeServices
	metrics *metricsCapture
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWithMetrics(t, newMetricsCapture())
}

// newHarnessWithMetrics is newHarness with the workflow's and activities' metrics going to
// m (several harnesses may share one, as workers share a process).
func newHarnessWithMetrics(t *testing.T, m *metricsCapture) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	suite.SetMetricsHandler(m)
	env := suite.NewTestWorkflowEnvironment()
	fakes := newFakes()
	worker.Register(env, fakes.activities())
	return &harness{t: t, env: env, fakes: fakes, metrics: m}
}

func (h *harness) run(in saga.OrderInput) {
	h.t.Helper()
	h.env.ExecuteWorkflow(saga.WorkflowType, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
}

func (h *harness) state() *saga.OrderState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(saga.QueryStatus)
	if err != nil {
		h.t.Fatalf("query status: %v", err)
	}
	var s saga.OrderState
	if err := v.Get(&s); err != nil {
		h.t.Fatal(err)
	}
	return &s
}

// errorType returns the type of the workflow's failure, "Canceled" or "" for a success.
func (h *harness) errorType() string {
	err := h.env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return ""
	case temporal.IsCanceledError(err):
		return "Canceled"
	case errors.As(err, &appErr):
		return appErr.Type()
	}
	return "unexpected: " + err.Error()
}

func (h *harness) wantCompensations(want ...string) {
	h.t.Helper()
	if got := h.fakes.compensations(); !slices.Equal(got, want) {
		h.t.Errorf("compensations = %v, want %v (calls: %s)", got, want, h.fakes)
	}
}

func (h *harness) wantOutcome(errType string, status saga.OrderStatus) {
	h.t.Helper()
	if got := h.errorType(); got != errType {
		h.t.Errorf("workflow error type = %q, want %q (err: %v)", got, errType, h.env.GetWorkflowError())
	}
	if got := h.state().Status; got != status {
		h.t.Errorf("order status = %s, want %s", got, status)
	}
}

func (h *harness) stepStatus(step saga.Step) saga.StepStatus {
	return h.state().Step(step).Status
}

func TestOrderCompletes(t *testing.T) {
	h := newHarness(t)
	h.run(testOrder())
	h.wantOutcome("", saga.StatusCompleted)
	h.wantCompensations()
	if got, want := h.fakes.ops(), []string{"CreateOrder", "ReserveInventory", "ChargePayment", "ScheduleShipping", "ConfirmOrder"}; !slices.Equal(got, want) {
		t.Errorf("steps = %v, want %v", got, want)
	}
	s := h.state()
	for _, st := range s.Steps {
		want := saga.StepCompleted
		if st.Name == saga.StepApproval || st.Name == saga.StepRedeemCoupon { // below the threshold, no coupon
			want = saga.StepSkipped
		}
		if st.Status != want || (want == saga.StepCompleted && st.Attempts != 1) {
			t.Errorf("step %s = %s after %d attempts, want %s after 1", st.Name, st.Status, st.Attempts, want)
		}
	}
	if got, want := h.fakes.statuses, []string{"RESERVED", "PAID", "SHIPPING_SCHEDULED", "COMPLETED:"}; !slices.Equal(got, want) {
		t.Errorf("statuses mirrored to the order service = %v, want %v", got, want)
	}
	var result saga.OrderState
	if err := h.env.GetWorkflowResult(&result); err != nil || result.Status != saga.StatusCompleted {
		t.Errorf("result = %+v, %v; want COMPLETED", result.Status, err)
	}
}

func TestBusinessRejectionAtEachStep(t *testing.T) {
	cases := []struct {
		step     string
		err      error
		errType  string
		compsRun []string
	}{
		{"CreateOrder", &validate.Error{}, saga.InvalidOrder, nil},
		{"ReserveInventory", inventory.ErrOutOfStock, saga.OutOfStock, []string{"CancelOrder"}},
		{"ReserveInventory", inventory.ErrUnknownProduct, saga.UnknownProduct, []string{"CancelOrder"}},
		{"ChargePayment", payment.ErrPaymentDeclined, saga.PaymentDeclined, []string{"ReleaseInventory", "CancelOrder"}},
		{"ChargePayment", payment.ErrInsufficientFunds, saga.InsufficientFunds, []string{"ReleaseInventory", "CancelOrder"}},
		{"ChargePayment", payment.ErrUnknownCustomer, saga.UnknownCustomer, []string{"ReleaseInventory", "CancelOrder"}},
		{"ScheduleShipping", shipping.ErrShippingUnavailable, saga.ShippingUnavailable,
			[]string{"RefundPayment", "ReleaseInventory", "CancelOrder"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s refused with %s undoes only the steps before it, in reverse", tc.step, tc.errType), func(t *testing.T) {
			h := newHarness(t)
			h.fakes.failNext(tc.step, fmt.Errorf("refused: %w", tc.err))
			h.run(testOrder())
			h.wantOutcome(tc.errType, saga.StatusRejected)
			h.wantCompensations(tc.compsRun...)
			if n := h.fakes.count(tc.step); n != 1 {
				t.Errorf("%s called %d times, want 1 (a business rejection is not retried)", tc.step, n)
			}
			s := h.state()
			if s.Failure == nil || string(s.Failure.Step) != tc.step || s.Failure.Type != tc.errType {
				t.Errorf("failure = %+v, want %s at %s", s.Failure, tc.errType, tc.step)
			}
			if s.Step(saga.Step(tc.step)).Status != saga.StepFailed {
				t.Errorf("step %s = %s, want FAILED", tc.step, s.Step(saga.Step(tc.step)).Status)
			}
			for _, c := range tc.compsRun {
				if st := s.Step(compensated(c)); st.Status != saga.StepCompensated {
					t.Errorf("step %s = %s, want COMPENSATED", st.Name, st.Status)
				}
			}
			if len(tc.compsRun) > 0 {
				if got := h.fakes.statuses[len(h.fakes.statuses)-1]; got != "REJECTED:"+tc.errType {
					t.Errorf("order service got %q, want REJECTED:%s", got, tc.errType)
				}
			}
		})
	}
}

// compensated maps a compensation to the step it undoes.
func compensated(comp string) saga.Step {
	return map[string]saga.Step{
		"CancelOrder": saga.StepCreateOrder, "ReleaseInventory": saga.StepReserveInventory,
		"RefundPayment": saga.StepChargePayment, "CancelShipment": saga.StepScheduleShipping,
	}[comp]
}

func TestAmbiguousFailureAtEachStep(t *testing.T) {
	cases := []struct {
		step     string
		activity any
		compsRun []string
	}{
		{"CreateOrder", (*activities.Activities).CreateOrder, []string{"CancelOrder"}},
		{"ReserveInventory", (*activities.Activities).ReserveInventory, []string{"ReleaseInventory", "CancelOrder"}},
		{"ChargePayment", (*activities.Activities).ChargePayment, []string{"RefundPayment", "ReleaseInventory", "CancelOrder"}},
		{"ScheduleShipping", (*activities.Activities).ScheduleShipping,
			[]string{"CancelShipment", "RefundPayment", "ReleaseInventory", "CancelOrder"}},
	}
	for _, tc := range cases {
		t.Run(tc.step+" timing out on every attempt is compensated too, since it may have happened", func(t *testing.T) {
			h := newHarness(t)
			// Every attempt times out, as the server reports a start-to-close timeout.
			h.env.OnActivity(tc.step, mock.Anything, mock.Anything).
				Return(saga.Result{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil))
			h.run(testOrder())
			h.wantOutcome("Timeout", saga.StatusRejected)
			h.wantCompensations(tc.compsRun...)
			if st := h.state().Step(saga.Step(tc.step)); st.Status != saga.StepCompensated {
				t.Errorf("step %s = %s, want COMPENSATED", tc.step, st.Status)
			}
		})
		t.Run(tc.step+" answering 503 until the retries run out is compensated too", func(t *testing.T) {
			h := newHarness(t)
			h.fakes.failAlways(tc.step, unavailable(tc.step))
			h.run(testOrder())
			h.wantOutcome(saga.ServiceUnavailable, saga.StatusRejected)
			h.wantCompensations(tc.compsRun...)
			if n := h.fakes.count(tc.step); n != 5 {
				t.Errorf("%s called %d times, want 5 (the forward retry bound)", tc.step, n)
			}
			if st := h.state().Step(saga.Step(tc.step)); st.Attempts != 5 {
				t.Errorf("step %s attempts = %d, want 5", tc.step, st.Attempts)
			}
		})
	}
}

func TestFlakyPaymentIsRetriedAndChargedOnce(t *testing.T) {
	h := newHarness(t)
	h.fakes.failNext("ChargePayment", unavailable("pm_card_flaky attempt 1"), unavailable("pm_card_flaky attempt 2"))
	h.run(testOrder())
	h.wantOutcome("", saga.StatusCompleted)
	h.wantCompensations()
	if h.fakes.count("ChargePayment") != 3 || h.fakes.charges != 1 {
		t.Errorf("charge calls %d, successful charges %d; want 3 calls and 1 charge", h.fakes.count("ChargePayment"), h.fakes.charges)
	}
	if st := h.state().Step(saga.StepChargePayment); st.Attempts != 3 || st.Status != saga.StepCompleted {
		t.Errorf("ChargePayment = %s after %d attempts, want COMPLETED after 3", st.Status, st.Attempts)
	}
}

// TestCancellationAtEachStage cancels while a given step runs (its activity is held for a
// minute of test time; the cancellation comes after one second).
func TestCancellationAtEachStage(t *testing.T) {
	cases := []struct {
		running  string
		compsRun []string
	}{
		{"CreateOrder", []string{"CancelOrder"}},
		{"ReserveInventory", []string{"ReleaseInventory", "CancelOrder"}},
		{"ChargePayment", []string{"RefundPayment", "ReleaseInventory", "CancelOrder"}},
		{"ScheduleShipping", []string{"CancelShipment", "RefundPayment", "ReleaseInventory", "CancelOrder"}},
	}
	for _, via := range []string{"temporal cancel", "cancel update"} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s while %s runs undoes it and every earlier step", via, tc.running), func(t *testing.T) {
				h := newHarness(t)
				h.env.OnActivity(tc.running, mock.Anything, mock.Anything).After(5*time.Second).Return(saga.Result{Attempt: 1}, nil)
				h.env.RegisterDelayedCallback(func() { h.cancel(via) }, time.Second)
				h.run(testOrder())
				h.wantOutcome("Canceled", saga.StatusCancelled)
				h.wantCompensations(tc.compsRun...)
				if got := h.fakes.statuses[len(h.fakes.statuses)-1]; got != "CANCELLED:" {
					t.Errorf("order service got %q, want CANCELLED", got)
				}
			})
		}
		t.Run(via+" while awaiting approval releases the stock and cancels the order", func(t *testing.T) {
			h := newHarness(t)
			h.env.RegisterDelayedCallback(func() { h.cancel(via) }, time.Minute)
			h.run(bigOrder())
			h.wantOutcome("Canceled", saga.StatusCancelled)
			h.wantCompensations("ReleaseInventory", "CancelOrder")
		})
	}
}

func (h *harness) cancel(via string) {
	if via == "temporal cancel" {
		h.env.CancelWorkflow()
		return
	}
	h.update(saga.UpdateCancel, saga.Decision{By: "customer", Note: "changed my mind"}, nil)
}

// update sends an update and checks it was accepted (wantErrType "") or refused with
// wantErrType.
func (h *harness) update(name string, arg any, wantRefusal *string) {
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnReject: func(err error) {
			var appErr *temporal.ApplicationError
			if wantRefusal == nil || !errors.As(err, &appErr) || appErr.Type() != *wantRefusal {
				h.t.Errorf("update %s refused: %v", name, err)
			}
		},
		OnAccept: func() {
			if wantRefusal != nil {
				h.t.Errorf("update %s accepted, want refused with %s", name, *wantRefusal)
			}
		},
		OnComplete: func(any, error) {},
	}, arg)
}

func TestCancelPastThePointOfNoReturnIsRefused(t *testing.T) {
	h := newHarness(t)
	h.env.OnActivity("ConfirmOrder", mock.Anything, mock.Anything).After(5*time.Second).Return(saga.Result{Attempt: 1}, nil)
	refused := saga.ErrTypeInvalidState
	h.env.RegisterDelayedCallback(func() {
		h.update(saga.UpdateCancel, saga.Decision{By: "customer"}, &refused)
	}, time.Second)
	h.env.RegisterDelayedCallback(func() { h.env.CancelWorkflow() }, 2*time.Second) // ignored as well
	h.run(testOrder())
	h.wantOutcome("", saga.StatusCompleted)
	h.wantCompensations()
}

func TestApproval(t *testing.T) {
	t.Run("an order under the threshold skips approval", func(t *testing.T) {
		h := newHarness(t)
		h.run(testOrder())
		if got := h.stepStatus(saga.StepApproval); got != saga.StepSkipped {
			t.Errorf("approval step = %s, want SKIPPED", got)
		}
	})
	t.Run("an approve signal lets a large order complete", func(t *testing.T) {
		h := newHarness(t)
		h.env.RegisterDelayedCallback(func() {
			if s := h.state(); s.Status != saga.StatusAwaitingApproval {
				t.Errorf("status before the decision = %s, want AWAITING_APPROVAL", s.Status)
			}
			h.env.SignalWorkflow(saga.SignalApprove, saga.Decision{By: "alice"})
		}, 10*time.Minute)
		h.run(bigOrder())
		h.wantOutcome("", saga.StatusCompleted)
		if st := h.state().Step(saga.StepApproval); st.Status != saga.StepCompleted || st.Detail != "approved by alice" {
			t.Errorf("approval step = %+v, want COMPLETED by alice", st)
		}
	})
	t.Run("an approve signal without a payload works too", func(t *testing.T) {
		h := newHarness(t)
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(saga.SignalApprove, nil) }, time.Minute)
		h.run(bigOrder())
		h.wantOutcome("", saga.StatusCompleted)
	})
	t.Run("a reject update rejects the order and releases the stock", func(t *testing.T) {
		h := newHarness(t)
		h.env.RegisterDelayedCallback(func() {
			h.update(saga.UpdateReject, saga.Decision{By: "bob", Note: "fraud check"}, nil)
		}, time.Minute)
		h.run(bigOrder())
		h.wantOutcome(saga.ApprovalRejected, saga.StatusRejected)
		h.wantCompensations("ReleaseInventory", "CancelOrder")
		if f := h.state().Failure; f == nil || f.Message != "rejected by bob: fraud check" {
			t.Errorf("failure = %+v", f)
		}
	})
	t.Run("no decision before the timeout rejects the order", func(t *testing.T) {
		h := newHarness(t)
		h.run(bigOrder())
		h.wantOutcome(saga.ApprovalTimedOut, saga.StatusRejected)
		h.wantCompensations("ReleaseInventory", "CancelOrder")
		if h.fakes.count("ChargePayment") != 0 {
			t.Error("a timed-out order was charged")
		}
	})
	t.Run("approving an order that does not await approval is refused", func(t *testing.T) {
		h := newHarness(t)
		refused := saga.ErrTypeInvalidState
		h.env.OnActivity("ChargePayment", mock.Anything, mock.Anything).After(5*time.Second).Return(saga.Result{Attempt: 1}, nil)
		h.env.RegisterDelayedCallback(func() { h.update(saga.UpdateApprove, saga.Decision{}, &refused) }, time.Second)
		h.run(testOrder())
		h.wantOutcome("", saga.StatusCompleted)
	})
}

func TestStuckCompensation(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h := newHarness(t)
		h.fakes.failNext("ScheduleShipping", shipping.ErrShippingUnavailable)
		h.fakes.failAlways("RefundPayment", unavailable("refunds are down"))
		return h
	}
	t.Run("a refund failing past its retries parks the order until retry-compensations", func(t *testing.T) {
		h := setup(t)
		h.env.RegisterDelayedCallback(func() {
			s := h.state()
			if s.Status != saga.StatusNeedsAttention || s.Attention == nil || s.Attention.Step != saga.StepChargePayment {
				t.Errorf("state = %s, attention %+v; want NEEDS_ATTENTION on ChargePayment", s.Status, s.Attention)
			}
			if got := h.fakes.count("ReleaseInventory"); got != 0 {
				t.Errorf("ReleaseInventory ran %d times while the refund is stuck, want 0", got)
			}
			if got := h.fakes.count("RefundPayment"); got != 3 {
				t.Errorf("RefundPayment tried %d times, want 3 (the policy's compensation attempts)", got)
			}
			h.fakes.failAlways("RefundPayment", nil) // the operator fixes the cause...
			h.env.SignalWorkflow(saga.SignalRetryCompensations, saga.Decision{By: "ops"})
		}, time.Hour)
		h.run(testOrder())
		h.wantOutcome(saga.ShippingUnavailable, saga.StatusRejected)
		h.wantCompensations("RefundPayment", "ReleaseInventory", "CancelOrder")
		if h.fakes.refunds != 1 {
			t.Errorf("refunds = %d, want 1", h.fakes.refunds)
		}
		if st := h.state().Step(saga.StepChargePayment); st.Status != saga.StepCompensated {
			t.Errorf("ChargePayment = %s, want COMPENSATED", st.Status)
		}
	})
	t.Run("resolve-manually records the note and moves on", func(t *testing.T) {
		h := setup(t)
		refused := saga.ErrTypeInvalidState
		h.env.RegisterDelayedCallback(func() {
			h.update(saga.UpdateResolveManually, saga.Decision{By: "ops"}, &refused) // a note is required
			h.update(saga.UpdateResolveManually, saga.Decision{By: "ops", Note: "refunded by bank transfer"}, nil)
		}, time.Hour)
		h.run(testOrder())
		h.wantOutcome(saga.ShippingUnavailable, saga.StatusRejected)
		h.wantCompensations("RefundPayment", "ReleaseInventory", "CancelOrder")
		s := h.state()
		if st := s.Step(saga.StepChargePayment); st.Status != saga.StepCompensationFailed ||
			st.Compensation.Detail != "resolved manually by ops: refunded by bank transfer" {
			t.Errorf("ChargePayment = %+v, want COMPENSATION_FAILED resolved by ops", st)
		}
		if n := len(s.Events); n == 0 || s.Events[n-1].Action != saga.SignalResolveManually {
			t.Errorf("events = %+v, want the resolution recorded", s.Events)
		}
	})
	t.Run("retry-compensations outside NEEDS_ATTENTION is refused", func(t *testing.T) {
		h := newHarness(t)
		refused := saga.ErrTypeInvalidState
		h.env.OnActivity("ChargePayment", mock.Anything, mock.Anything).After(5*time.Second).Return(saga.Result{Attempt: 1}, nil)
		h.env.RegisterDelayedCallback(func() {
			h.update(saga.UpdateRetryCompensations, saga.Decision{}, &refused)
		}, time.Second)
		h.run(testOrder())
		h.wantOutcome("", saga.StatusCompleted)
	})
}

// Under the milestones mirror policy, the transient statuses stay in the workflow: the
// order service and the OrderStatus search attribute see the final status only, while
// the query still shows each step.
func TestMilestonesMirrorKeepsTransientStatusesInTheWorkflow(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   []string
	}{
		{saga.MirrorMilestones, []string{"COMPLETED"}},
		{saga.MirrorEvery, []string{"RESERVED", "PAID", "SHIPPING_SCHEDULED", "COMPLETED"}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			h := newHarness(t)
			var indexed []string
			h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				updates := args.Get(0).(temporal.SearchAttributes)
				if v, ok := updates.GetKeyword(saga.SearchAttrOrderStatus); ok {
					indexed = append(indexed, v)
				}
			}).Return(nil)
			in := testOrder()
			in.Policy.StatusMirror = tc.policy
			h.run(in)
			h.wantOutcome("", saga.StatusCompleted)
			mirrored := make([]string, len(h.fakes.statuses))
			for i, s := range h.fakes.statuses {
				mirrored[i] = strings.TrimSuffix(s, ":")
			}
			if !slices.Equal(mirrored, tc.want) || !slices.Equal(indexed, tc.want) {
				t.Errorf("mirrored %v, indexed %v; want %v for both", mirrored, indexed, tc.want)
			}
			if v := h.state().Version; v != 4 {
				t.Errorf("state version %d, want 4: every status counts, mirrored or not", v)
			}
		})
	}
}
