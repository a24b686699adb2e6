// Package workflows holds OrderWorkflow, the order saga of PRODUCT.md, and Client, the way
// callers reach its executions. The saga's contract (its input, state, names and error
// types) is package saga's.
//
// The workflow reads like the saga table: create the order, reserve the stock, redeem the
// coupon, wait for approval when the total is large, charge, schedule shipping, confirm.
// After each step it pushes that step's compensation on a stack (saga.go), unless the
// service definitely refused the step; on failure or cancellation the stack unwinds last-in first-out on a
// disconnected context. A compensation that keeps failing parks the order in
// NEEDS_ATTENTION until an operator retries it or resolves it by hand.
//
// Workflow code must be deterministic: time comes from workflow.Now, concurrency from
// workflow.Go, and all I/O happens in activities. `make lint` checks this with workflowcheck.
package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/internal/money"
	"github.com/ordersaga/ordersaga/saga"
)

// Activity settings. Forward steps give up quickly (the saga then compensates);
// compensations are patient; confirming, the point of no return, never gives up.
var (
	stepTimeout = 10 * time.Second
	stepRetry   = temporal.RetryPolicy{
		InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2,
		MaximumInterval: 5 * time.Second, MaximumAttempts: 5,
	}
	compensationRetry = temporal.RetryPolicy{
		InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
	}
	confirmRetry = temporal.RetryPolicy{
		InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Minute,
	}
	syncOptions = workflow.LocalActivityOptions{
		StartToCloseTimeout: 2 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumAttempts: 3},
	}
	// The final status must reach the read model: it retries until the order service
	// takes it, like ConfirmOrder.
	finalSyncOptions = workflow.LocalActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
		},
	}
)

// maxWait bounds the wait of one wait-settled update.
const maxWait = 30 * time.Second

// OrderWorkflow runs one order's saga and returns its final state. It fails with the
// business error type of the step that was refused (after compensating), ends Canceled
// when cancelled (after compensating), and stays running in NEEDS_ATTENTION while a
// compensation waits for an operator.
func OrderWorkflow(ctx workflow.Context, in saga.OrderInput) (saga.OrderState, error) {
	o := newOrder(ctx, in)
	if err := o.handle(ctx); err != nil {
		return o.state, err
	}
	o.metrics.started()
	err := o.run(ctx)
	// Let running update handlers (a wait-settled, say) answer before the workflow closes.
	closing, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(closing, func() bool { return workflow.AllHandlersFinished(closing) })
	return o.state, err
}

// order is one running saga: its input, its state and its compensation stack.
type order struct {
	in      saga.OrderInput
	policy  saga.Policy
	state   saga.OrderState
	saga    Saga
	log     log.Logger
	metrics metrics

	// cancelSteps cancels the forward steps' context (the cancel update uses it).
	cancelSteps workflow.CancelFunc
	// cancelRequested is set once a cancellation was accepted.
	cancelRequested bool
	// compensating is set once the saga started to unwind.
	compensating bool
	// pastNoReturn is set when ConfirmOrder starts: no cancellation after that.
	pastNoReturn bool
	// approval is the approve or reject decision, once made.
	approval *approval
	// operator is the operator's answer to a stuck compensation, once given.
	operator *operatorAction
	// mirrored is the version of the state that the order service already holds, carried
	// there by ConfirmOrderWithState (0: none).
	mirrored int64
}

type approval struct {
	approved bool
	saga.Decision
}

type operatorAction struct {
	retry bool
	saga.Decision
}

func newOrder(ctx workflow.Context, in saga.OrderInput) *order {
	info := workflow.GetInfo(ctx)
	now := workflow.Now(ctx)
	o := &order{in: in, policy: in.Policy.WithDefaults(), log: workflow.GetLogger(ctx), metrics: newMetrics(ctx)}
	o.state = saga.OrderState{
		OrderID: in.OrderID, CustomerID: in.CustomerID, Items: in.Items,
		SubtotalCents: in.TotalCents, CouponCode: in.CouponCode, TotalCents: in.TotalCents,
		Currency: in.Currency, Status: saga.StatusPending,
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		CreatedAt: info.WorkflowStartTime, UpdatedAt: now, TraceID: in.TraceID,
	}
	for _, s := range saga.Steps {
		o.state.Steps = append(o.state.Steps, saga.StepState{Name: s, Status: saga.StepPending})
	}
	return o
}

// run is the saga table.
func (o *order) run(ctx workflow.Context) error {
	ctx, o.cancelSteps = workflow.WithCancel(ctx)
	var a *activities.Activities
	o.publish(ctx)

	// 1. CreateOrder: the order row, PENDING. Undo: CancelOrder (CANCELLED or REJECTED).
	if err := o.step(ctx, saga.StepCreateOrder, a.CreateOrder, o.in.Order, o.cancelOrder); err != nil {
		return o.abort(ctx, saga.StepCreateOrder, err)
	}
	// 2. ReserveInventory: every item or none. Undo: ReleaseInventory.
	if err := o.step(ctx, saga.StepReserveInventory, a.ReserveInventory, o.in.Reserve(), o.releaseInventory); err != nil {
		return o.abort(ctx, saga.StepReserveInventory, err)
	}
	o.setStatus(ctx, saga.StatusReserved)

	// 3. RedeemCoupon, when the order has one: the discount comes off the total the rest
	// of the saga works with. Undo: RestoreCoupon.
	if o.in.CouponCode == "" || o.in.Revision < revisionCoupons {
		o.skip(ctx, saga.StepRedeemCoupon, "no coupon")
	} else {
		res, err := o.stepResult(ctx, saga.StepRedeemCoupon, a.RedeemCoupon, o.in.Redeem(), o.restoreCoupon)
		if err != nil {
			return o.abort(ctx, saga.StepRedeemCoupon, err)
		}
		o.state.DiscountCents = min(max(res.AmountCents, 0), o.state.SubtotalCents)
		o.state.TotalCents = o.state.SubtotalCents - o.state.DiscountCents
	}

	// 4. Approval, only when the total reaches the threshold: approve, reject, or time out.
	if err := o.awaitApproval(ctx); err != nil {
		return o.abort(ctx, saga.StepApproval, err)
	}

	// 5. ChargePayment of the total after any discount (nothing to charge for a free
	// order). Undo: RefundPayment.
	charge := o.in.Charge()
	charge.TotalCents = o.state.TotalCents
	if charge.TotalCents == 0 && o.changed(ctx, changeFreeOrdersSkipCharge) {
		o.skip(ctx, saga.StepChargePayment, "nothing to charge: the order is free")
	} else if err := o.step(ctx, saga.StepChargePayment, a.ChargePayment, charge, o.refundPayment); err != nil {
		return o.abort(ctx, saga.StepChargePayment, err)
	}
	o.setStatus(ctx, saga.StatusPaid)

	// 6. ScheduleShipping. Undo: CancelShipment.
	if err := o.step(ctx, saga.StepScheduleShipping, a.ScheduleShipping, o.in.Ship(), o.cancelShipment); err != nil {
		return o.abort(ctx, saga.StepScheduleShipping, err)
	}
	o.setStatus(ctx, saga.StatusShippingScheduled)

	// 7. ConfirmOrder: the point of no return. A cancellation that has not arrived by now
	// is refused from here on, and nothing is compensated.
	if err := ctx.Err(); err != nil {
		return o.abort(ctx, saga.StepConfirmOrder, err)
	}
	o.pastNoReturn = true
	return o.confirm(ctx)
}

// step runs a forward step's activity with arg and then, when the step may have had an
// effect, pushes the step's compensation (see mayHaveEffect).
func (o *order) step(ctx workflow.Context, name saga.Step, activity, arg any, undo func(workflow.Context) error) error {
	_, err := o.stepResult(ctx, name, activity, arg, undo)
	return err
}

// stepResult is step, returning the activity's result too.
func (o *order) stepResult(ctx workflow.Context, name saga.Step, activity, arg any, undo func(workflow.Context) error) (saga.Result, error) {
	var res saga.Result
	if err := ctx.Err(); err != nil {
		return res, err // cancelled before the step started: nothing to undo
	}
	st := o.state.Step(name)
	st.Status = saga.StepRunning
	o.publish(ctx)

	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ActivityID:          activityID(name),
		StartToCloseTimeout: stepTimeout,
		RetryPolicy:         &stepRetry,
		Summary:             o.summary(name),
	})
	started := workflow.Now(ctx)
	err := workflow.ExecuteActivity(actx, activity, arg).Get(actx, &res)
	if o.mayHaveEffect(ctx, err) {
		o.saga.Add(Compensation{Step: name, Run: undo})
	}
	if err != nil {
		st.Status, st.Attempts, st.Error = saga.StepFailed, attempts(err, stepRetry.MaximumAttempts), errorInfo(err)
	} else {
		st.Status, st.Attempts, st.Detail = saga.StepCompleted, res.Attempt, res.Detail
	}
	o.metrics.stepDone(ctx, name, started, st.Attempts, err)
	o.publish(ctx)
	return res, err
}

// mayHaveEffect reports whether a forward step that returned err may have changed
// something the saga must undo. A success has; so has an ambiguous failure (a timeout, a
// cancellation, retries exhausted), since the effect may have happened. A definite
// refusal has not: a business rejection on the step's first attempt, or a service that
// holds another order under this ID, or has undone it already. A business rejection after
// retried attempts counts as ambiguous: an earlier attempt may have landed late (a slow
// reservation that commits after a later attempt found no stock).
func (o *order) mayHaveEffect(ctx workflow.Context, err error) bool {
	switch {
	case err == nil:
		return true
	case saga.IsBusinessRejection(err):
		return saga.Attempt(err) > 1 && o.changed(ctx, changeRetriedRefusalCompensated)
	case saga.IsDefiniteRefusal(err):
		return !o.changed(ctx, changeDuplicateNotCompensated)
	}
	return true
}

// skip marks a step SKIPPED, with why.
func (o *order) skip(ctx workflow.Context, name saga.Step, why string) {
	st := o.state.Step(name)
	st.Status, st.Detail = saga.StepSkipped, why
	o.publish(ctx)
}

// awaitApproval is step 4: orders at or above the threshold wait for an operator's
// decision, and are rejected when none comes before the timeout.
func (o *order) awaitApproval(ctx workflow.Context) error {
	st := o.state.Step(saga.StepApproval)
	if o.state.TotalCents < o.policy.ApprovalThresholdCents {
		o.skip(ctx, saga.StepApproval, "total below the approval threshold of "+money.Format(o.policy.ApprovalThresholdCents, o.in.Currency))
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	timeout := time.Duration(o.policy.ApprovalTimeout)
	deadline := workflow.Now(ctx).Add(timeout)
	o.state.ApprovalRequired, o.state.ApprovalDeadline = true, &deadline
	st.Status = saga.StepRunning
	o.setStatus(ctx, saga.StatusAwaitingApproval)

	decided, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
		Timeout:      timeout,
		TimerOptions: workflow.TimerOptions{Summary: "Approval deadline: reject unless decided within " + timeout.String()},
	}, func() bool { return o.approval != nil })
	switch {
	case err != nil:
		st.Status, st.Error = saga.StepFailed, errorInfo(err)
		return err
	case !decided:
		err = temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("no approval within %s", timeout), saga.ApprovalTimedOut, nil)
	case !o.approval.approved:
		err = temporal.NewNonRetryableApplicationError(
			"rejected by "+who(o.approval.By)+noteSuffix(o.approval.Note), saga.ApprovalRejected, nil)
	default:
		st.Status, st.Detail = saga.StepCompleted, "approved by "+who(o.approval.By)+noteSuffix(o.approval.Note)
		o.publish(ctx)
		return nil
	}
	st.Status, st.Error = saga.StepFailed, errorInfo(err)
	o.publish(ctx)
	return err
}

// confirm is step 6. It runs on a disconnected context (a cancellation can no longer stop
// it) and retries until the order service records the order COMPLETED. From revision 3
// on it hands the service the state the order will end in, predicted for a confirm that
// succeeds at its first attempt, so that the read model's final state costs no call of
// its own; a retried confirm makes that prediction wrong, and the final state then goes
// out separately with the next version (setStatus).
func (o *order) confirm(ctx workflow.Context) error {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	st := o.state.Step(saga.StepConfirmOrder)
	st.Status = saga.StepRunning
	o.publish(ctx)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ActivityID:          activityID(saga.StepConfirmOrder),
		StartToCloseTimeout: stepTimeout,
		RetryPolicy:         &confirmRetry,
		Summary:             o.summary(saga.StepConfirmOrder),
	})
	var a *activities.Activities
	var res saga.Result
	started := workflow.Now(ctx)
	var err error
	var final saga.OrderState // the state the order service was handed, when it was
	var view json.RawMessage
	predicted := saga.Result{Attempt: 1, Detail: activities.ConfirmedDetail}
	if o.in.Revision >= revisionConfirmCarriesState {
		final = o.completed(ctx, predicted)
		if view = marshal(o.log, final); len(view) == 0 || len(view) > activities.MaxStateBytes {
			// A view the service would refuse must not fail the confirm: it goes out
			// separately afterwards, where a refusal only costs the read model's copy.
			final, view = saga.OrderState{}, nil
		}
	}
	if view != nil {
		in := saga.StatusInput{OrderID: o.in.OrderID, Status: string(saga.StatusCompleted), Version: final.Version, State: view}
		err = workflow.ExecuteActivity(actx, a.ConfirmOrderWithState, in).Get(actx, &res)
	} else {
		err = workflow.ExecuteActivity(actx, a.ConfirmOrder, o.in.OrderID).Get(actx, &res)
	}
	if err != nil {
		// Only an impossible state gets here (the order was cancelled behind the saga's
		// back): fail loudly, without compensating past the point of no return.
		st.Status, st.Attempts, st.Error = saga.StepFailed, attempts(err, 0), errorInfo(err)
		o.state.Failure = &saga.Failure{Step: saga.StepConfirmOrder, Type: st.Error.Type, Message: st.Error.Message}
		o.metrics.stepDone(ctx, saga.StepConfirmOrder, started, st.Attempts, err)
		o.publish(ctx)
		return err
	}
	o.metrics.stepDone(ctx, saga.StepConfirmOrder, started, res.Attempt, nil)
	if final.Version != 0 {
		if res == predicted {
			// The order service holds this very state: take it as the workflow's too.
			o.state, o.mirrored = final, final.Version
			workflow.SetCurrentDetails(ctx, progressMarkdown(&o.state))
			o.announce(ctx)
			return nil
		}
		// The confirm was retried, so the view it carried is out of date: the final
		// status goes out with a newer version.
		o.state.Version = final.Version
	}
	st.Status, st.Attempts, st.Detail = saga.StepCompleted, res.Attempt, res.Detail
	o.setStatus(ctx, saga.StatusCompleted)
	return nil
}

// completed is the order's state once ConfirmOrder returns res: the step done, the order
// COMPLETED under its next version. It leaves o.state as it is.
func (o *order) completed(ctx workflow.Context, res saga.Result) saga.OrderState {
	final := o.state
	final.Steps = slices.Clone(o.state.Steps)
	st := final.Step(saga.StepConfirmOrder)
	st.Status, st.Attempts, st.Detail = saga.StepCompleted, res.Attempt, res.Detail
	final.Status = saga.StatusCompleted
	final.Version++
	final.UpdatedAt = workflow.Now(ctx)
	return final
}

// abort handles a failed or cancelled step: it records why, unwinds the compensation
// stack, and returns the workflow's final error: Canceled for a cancellation, otherwise
// a non-retryable error with the failed step's type.
func (o *order) abort(ctx workflow.Context, step saga.Step, err error) error {
	// From here on nothing may be cut short by the cancellation that may have caused this.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	cancelled := temporal.IsCanceledError(err) || o.cancelRequested
	if cancelled && !o.cancelRequested {
		// Cancelled with `temporal workflow cancel` (or the Web UI), not through the API.
		o.cancelRequested = true
		o.state.Events = append(o.state.Events, saga.Event{Action: "cancel", By: "temporal",
			Note: "workflow cancellation requested", At: workflow.Now(ctx)})
	}
	if !cancelled {
		info := errorInfo(err)
		o.state.Failure = &saga.Failure{Step: step, Type: info.Type, Message: info.Message}
	}
	o.log.Info("compensating", "failedStep", step, "cancelled", cancelled, "compensations", o.saga.Len())
	o.compensate(ctx)

	if cancelled {
		o.setStatus(ctx, saga.StatusCancelled)
		return temporal.NewCanceledError(fmt.Sprintf("order %s cancelled at %s", o.in.OrderID, step))
	}
	o.setStatus(ctx, saga.StatusRejected)
	f := o.state.Failure
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", f.Step, f.Message), f.Type, nil)
}

// compensate unwinds the saga, recording each compensation's result in the step states,
// and parks the order in NEEDS_ATTENTION whenever a compensation fails after its retries.
// ctx must not be cancellable (abort disconnects it; Saga.Compensate does too).
func (o *order) compensate(ctx workflow.Context) {
	o.compensating = true
	o.setStatus(ctx, saga.StatusCompensating)
	o.saga.Compensate(ctx, CompensationHooks{
		Started: func(step saga.Step) {
			st := o.state.Step(step)
			st.Status = saga.StepCompensating
			if st.Compensation == nil {
				st.Compensation = &saga.CompensationState{}
			}
			st.Compensation.Runs++
			st.Compensation.Error = nil
			o.publish(ctx)
		},
		Finished: func(step saga.Step, err error) {
			st := o.state.Step(step)
			if err != nil {
				st.Status = saga.StepCompensationFailed
				st.Compensation.Error = errorInfo(err)
				st.Compensation.Attempts = attempts(err, o.policy.CompensationAttempts)
			} else {
				st.Status = saga.StepCompensated
			}
			o.metrics.compensated(step, err)
			o.publish(ctx)
		},
		Stuck: o.awaitOperator,
	})
}

// awaitOperator parks the order in NEEDS_ATTENTION until an operator sends
// retry-compensations (run the compensation again) or resolve-manually (move on).
func (o *order) awaitOperator(ctx workflow.Context, step saga.Step, err error) (retry bool) {
	o.state.Attention = &saga.Attention{Step: step, Error: *errorInfo(err), Since: workflow.Now(ctx)}
	o.log.Warn("compensation failed after its retries; waiting for an operator", "step", step, "error", err)
	o.metrics.neededAttention(step)
	o.setStatus(ctx, saga.StatusNeedsAttention)
	o.operator = nil
	_ = workflow.Await(ctx, func() bool { return o.operator != nil })
	action := o.operator
	o.operator, o.state.Attention = nil, nil
	if !action.retry {
		o.state.Step(step).Compensation.Detail = "resolved manually by " + who(action.By) + noteSuffix(action.Note)
	}
	o.setStatus(ctx, saga.StatusCompensating)
	return action.retry
}

// The compensations, one per step that has one. Each runs with the patient retry policy.

func (o *order) cancelOrder(ctx workflow.Context) error {
	var a *activities.Activities
	return o.undo(ctx, saga.StepCreateOrder, a.CancelOrder, o.outcome())
}

// outcome is how the order ends when it is undone: REJECTED with the failure, or
// CANCELLED with who cancelled it and why.
func (o *order) outcome() saga.CancelOrderInput {
	in := saga.CancelOrderInput{OrderID: o.in.OrderID, Status: string(saga.StatusCancelled), Reason: "cancelled"}
	if last := o.lastCancel(); last != nil {
		in.Reason = "cancelled by " + who(last.By) + noteSuffix(last.Note)
	}
	if f := o.state.Failure; f != nil {
		in.Status, in.Reason, in.FailedStep, in.ErrorType = string(saga.StatusRejected), f.Message, string(f.Step), f.Type
	}
	return in
}

func (o *order) releaseInventory(ctx workflow.Context) error {
	var a *activities.Activities
	return o.undo(ctx, saga.StepReserveInventory, a.ReleaseInventory, o.in.OrderID)
}

func (o *order) restoreCoupon(ctx workflow.Context) error {
	var a *activities.Activities
	return o.undo(ctx, saga.StepRedeemCoupon, a.RestoreCoupon, o.in.OrderID)
}

func (o *order) refundPayment(ctx workflow.Context) error {
	var a *activities.Activities
	return o.undo(ctx, saga.StepChargePayment, a.RefundPayment, o.in.OrderID)
}

func (o *order) cancelShipment(ctx workflow.Context) error {
	var a *activities.Activities
	return o.undo(ctx, saga.StepScheduleShipping, a.CancelShipment, o.in.OrderID)
}

// undo runs one compensation activity and records its attempts and detail.
func (o *order) undo(ctx workflow.Context, step saga.Step, activity, arg any) error {
	retry := compensationRetry
	retry.MaximumAttempts = o.policy.CompensationAttempts
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ActivityID:          compensationID(step, o.state.Step(step).Compensation.Runs),
		StartToCloseTimeout: stepTimeout,
		RetryPolicy:         &retry,
		Summary:             o.compensationSummary(step),
	})
	var res saga.Result
	if err := workflow.ExecuteActivity(actx, activity, arg).Get(actx, &res); err != nil {
		return err
	}
	c := o.state.Step(step).Compensation
	c.Attempts, c.Detail = res.Attempt, res.Detail
	return nil
}

func (o *order) lastCancel() *saga.Event {
	for i := len(o.state.Events) - 1; i >= 0; i-- {
		if o.state.Events[i].Action == "cancel" {
			return &o.state.Events[i]
		}
	}
	return nil
}

// setStatus moves the order to s: in the state, in the OrderStatus search attribute, in
// the Web UI's details, and in the order service (a transient status under the
// milestones mirror policy only in the state and the details), the read model that customers read
// (SyncOrderStatus, with the saga's whole view of the order). An intermediate status is
// mirrored best effort: a missed one is repaired by the next. The final status is
// mirrored until the order service takes it, so that the read model ends where the saga
// ended (an order whose compensation an operator resolved by hand included). A
// COMPLETED order of revision 3 or later usually needs no mirror of its own: its
// confirm carried the final state (see confirm).
func (o *order) setStatus(ctx workflow.Context, s saga.OrderStatus) {
	o.state.Status = s
	o.state.Version++
	if s.Transient() && o.policy.StatusMirror == saga.MirrorMilestones {
		o.publish(ctx) // in the workflow only (see saga.MirrorMilestones)
		return
	}
	o.publish(ctx)
	o.announce(ctx)
}

// announce makes the state's status known outside the workflow: the OrderStatus search
// attribute, the finished-order metrics, and the order service's read model, unless it
// holds this version already.
func (o *order) announce(ctx workflow.Context) {
	s := o.state.Status
	if err := workflow.UpsertTypedSearchAttributes(ctx, saga.SearchAttrOrderStatus.ValueSet(string(s))); err != nil {
		o.log.Warn("upsert OrderStatus", "error", err)
	}
	if s.Final() {
		o.metrics.finished(ctx, &o.state)
	}
	if s == saga.StatusPending || ctx.Err() != nil || o.state.Version == o.mirrored {
		return
	}
	opts := syncOptions
	in := saga.StatusInput{OrderID: o.in.OrderID, Status: string(s), Version: o.state.Version}
	if s.Final() {
		if !o.changed(ctx, changeFinalStatusMirrored) {
			return // an order started before the read model was kept to the end
		}
		opts = finalSyncOptions
		if s != saga.StatusCompleted {
			out := o.outcome()
			in.Reason, in.FailedStep, in.ErrorType = out.Reason, out.FailedStep, out.ErrorType
		}
	}
	in.State = marshal(o.log, o.state)
	var a *activities.Activities
	lctx := workflow.WithLocalActivityOptions(ctx, opts)
	if err := workflow.ExecuteLocalActivity(lctx, a.SyncOrderStatus, in).Get(lctx, nil); err != nil {
		o.log.Warn("could not mirror the status to the order service", "status", s, "error", err)
	}
}

// marshal is an order's state as JSON, for the read model. (encoding/json is
// deterministic for these types, structs and slices, its output fixed by the fields'
// order; workflowcheck follows its type cache into the runtime's garbage collector and
// reports it.)
func marshal(logger log.Logger, st saga.OrderState) json.RawMessage {
	b, err := json.Marshal(st) //workflowcheck:ignore
	if err != nil {            // a struct of strings, numbers and times always marshals
		logger.Error("marshal the order state", "error", err)
		return nil
	}
	return b
}

// publish stamps the state and shows it as the workflow's current details in the Web UI.
func (o *order) publish(ctx workflow.Context) {
	o.state.UpdatedAt = workflow.Now(ctx)
	workflow.SetCurrentDetails(ctx, progressMarkdown(&o.state))
}

// attempts is the attempt count carried by a step's error; when the error carries none
// (a timeout), retries ran out at max.
func attempts(err error, max int32) int32 {
	if n := saga.Attempt(err); n > 0 {
		return n
	}
	var actErr *temporal.ActivityError
	if errors.As(err, &actErr) && max > 0 {
		return max
	}
	return 0
}

// errorInfo reduces a step's error to its type and message.
func errorInfo(err error) *saga.ErrorInfo {
	var (
		appErr     *temporal.ApplicationError
		timeoutErr *temporal.TimeoutError
	)
	switch {
	case errors.As(err, &appErr):
		return &saga.ErrorInfo{Type: appErr.Type(), Message: appErr.Message()}
	case temporal.IsCanceledError(err):
		return &saga.ErrorInfo{Type: "Canceled", Message: "cancelled"}
	case errors.As(err, &timeoutErr):
		return &saga.ErrorInfo{Type: "Timeout", Message: "timed out (" + timeoutErr.TimeoutType().String() + ")"}
	default:
		return &saga.ErrorInfo{Type: "Error", Message: err.Error()}
	}
}

func who(by string) string {
	if by == "" {
		return "an operator"
	}
	return by
}

func noteSuffix(note string) string {
	if note == "" {
		return ""
	}
	return ": " + note
}
