package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/saga"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// handle registers the status query and the signal and update handlers.
//
// Each action (approve, reject, retry-compensations, resolve-manually) arrives either as a
// signal, from the CLI, or as an update, from the API. Both go through the same check and
// apply functions, with the decision normalized first (see Decision.Normalized): an update
// is refused (the API answers 409) when the check fails; a signal cannot be refused, so
// one that does not apply, or whose payload is not a decision, is ignored with a log line
// and an "ignored" event in the order's state.
func (o *order) handle(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, saga.QueryStatus,
		func() (saga.OrderState, error) { return o.state, nil },
		workflow.QueryHandlerOptions{Description: "The order's status, steps, failure and events"},
	); err != nil {
		return err
	}

	actions := []struct {
		name        string
		description string
		check       func(saga.Decision) error
		apply       func(workflow.Context, saga.Decision)
	}{
		{saga.SignalApprove, "Approve an order awaiting approval", o.checkAwaitingApproval, o.decide(true)},
		{saga.SignalReject, "Reject an order awaiting approval", o.checkAwaitingApproval, o.decide(false)},
		{saga.SignalRetryCompensations, "Run the stuck compensation again", o.checkNeedsAttention, o.answerOperator(true)},
		{saga.SignalResolveManually, "Record that the stuck step was undone by hand (needs a note) and move on",
			o.checkResolve, o.answerOperator(false)},
	}
	// Signals are received on a context that outlives cancellation: an operator must be
	// able to retry a compensation of a cancelled order.
	listenCtx, _ := workflow.NewDisconnectedContext(ctx)
	for _, act := range actions {
		ch := workflow.GetSignalChannel(listenCtx, act.name)
		workflow.Go(listenCtx, func(ctx workflow.Context) {
			for {
				var payload json.RawMessage
				ch.Receive(ctx, &payload)
				d, err := DecodeDecision(payload)
				if err == nil {
					err = act.check(d)
				}
				if err != nil {
					o.ignore(ctx, act.name, err)
					continue
				}
				act.apply(ctx, d)
			}
		})
		err := workflow.SetUpdateHandlerWithOptions(ctx, act.name,
			func(ctx workflow.Context, d saga.Decision) (saga.OrderState, error) {
				act.apply(ctx, normalized(d))
				return o.state, nil
			},
			workflow.UpdateHandlerOptions{
				Validator:   func(_ workflow.Context, d saga.Decision) error { return act.check(normalized(d)) },
				Description: act.description,
			})
		if err != nil {
			return err
		}
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, saga.UpdateCancel,
		func(ctx workflow.Context, d saga.Decision) (saga.OrderState, error) {
			o.requestCancel(ctx, normalized(d))
			return o.state, nil
		},
		workflow.UpdateHandlerOptions{
			Validator:   func(_ workflow.Context, _ saga.Decision) error { return o.checkCancellable() },
			Description: "Cancel the order and undo its steps; refused past the point of no return",
		},
	); err != nil {
		return err
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, saga.UpdateAwaitSettled,
		func(ctx workflow.Context) (saga.OrderState, error) {
			ctx, _ = workflow.NewDisconnectedContext(ctx)
			err := workflow.Await(ctx, func() bool { return o.state.Status.Settled() })
			return o.state, err
		},
		workflow.UpdateHandlerOptions{
			Description: "Return the state once the order is final, awaiting approval or needing attention",
		}); err != nil {
		return err
	}

	return workflow.SetUpdateHandlerWithOptions(ctx, saga.UpdateWaitSettled,
		func(ctx workflow.Context, wait saga.Duration) (saga.OrderState, error) {
			ctx, _ = workflow.NewDisconnectedContext(ctx)
			d := min(max(time.Duration(wait), 0), maxWait)
			_, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
				Timeout:      d,
				TimerOptions: workflow.TimerOptions{Summary: "wait-settled: a client waits up to " + d.String()},
			}, func() bool { return o.state.Status.Settled() })
			return o.state, err
		},
		workflow.UpdateHandlerOptions{
			Description: "Return the state once the order is final, awaiting approval or needing attention, or when the wait (at most 30s) ends",
		})
}

func invalidState(format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), saga.ErrTypeInvalidState)
}

func (o *order) checkAwaitingApproval(saga.Decision) error {
	if o.state.Status != saga.StatusAwaitingApproval || o.approval != nil {
		return invalidState("order %s is %s, not awaiting approval", o.in.OrderID, o.state.Status)
	}
	return nil
}

func (o *order) checkNeedsAttention(saga.Decision) error {
	if o.state.Status != saga.StatusNeedsAttention || o.operator != nil {
		return invalidState("order %s is %s, not waiting for an operator", o.in.OrderID, o.state.Status)
	}
	return nil
}

func (o *order) checkResolve(d saga.Decision) error {
	if err := o.checkNeedsAttention(d); err != nil {
		return err
	}
	if d.Note == "" {
		return invalidState("resolve-manually needs a note saying what was done")
	}
	return nil
}

func (o *order) checkCancellable() error {
	switch {
	case o.cancelRequested:
		return nil // already cancelling: accepting again changes nothing
	case o.state.Status.Final():
		return invalidState("order %s is already %s", o.in.OrderID, o.state.Status)
	case o.pastNoReturn:
		return invalidState("order %s is past the point of no return (confirming)", o.in.OrderID)
	case o.compensating:
		return invalidState("order %s is already being undone after a failure", o.in.OrderID)
	}
	return nil
}

// decide returns the apply function of approve (true) or reject (false).
func (o *order) decide(approved bool) func(workflow.Context, saga.Decision) {
	return func(ctx workflow.Context, d saga.Decision) {
		o.approval = &approval{approved: approved, Decision: d}
		action := "reject"
		if approved {
			action = "approve"
		}
		o.record(ctx, action, d)
	}
}

// answerOperator returns the apply function of retry-compensations (true) or
// resolve-manually (false).
func (o *order) answerOperator(retry bool) func(workflow.Context, saga.Decision) {
	return func(ctx workflow.Context, d saga.Decision) {
		o.operator = &operatorAction{retry: retry, Decision: d}
		action := saga.SignalResolveManually
		if retry {
			action = saga.SignalRetryCompensations
		}
		o.record(ctx, action, d)
	}
}

// requestCancel accepts a cancellation: it cancels the running step, and the saga unwinds.
func (o *order) requestCancel(ctx workflow.Context, d saga.Decision) {
	if o.cancelRequested {
		return
	}
	o.cancelRequested = true
	o.record(ctx, "cancel", d)
	if o.cancelSteps != nil {
		o.cancelSteps()
	}
}

// ignore records a signal that was not applied, and why.
func (o *order) ignore(ctx workflow.Context, signal string, why error) {
	o.log.Warn("signal ignored", "signal", signal, "reason", why)
	o.state.Events = append(o.state.Events, saga.Event{Action: "ignored", Note: domain.Note.Clean(
		"signal " + signal + " ignored: " + why.Error()), At: workflow.Now(ctx)})
	o.publish(ctx)
}

func (o *order) record(ctx workflow.Context, action string, d saga.Decision) {
	o.state.Events = append(o.state.Events, saga.Event{Action: action, By: d.By, Note: d.Note, At: workflow.Now(ctx)})
	o.log.Info("order event", "action", action, "by", d.By, "note", d.Note)
	o.publish(ctx)
}
