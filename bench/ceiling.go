// Package bench holds the ceiling that `make bench` measures the saga against: a workflow
// with the saga's shape — the same activities and local activities, in the same order —
// whose activities do nothing. On the same server and worker settings, its latency and
// throughput are what Temporal itself allows on the machine; the saga's figures divided
// by these are what the saga's own work costs.
//
// The dressed ceiling sits between the two: the ceiling wearing what an order asks of
// Temporal beyond its shape (search attributes, memo, summaries, the order as input, a
// search attribute upserted at the end), with activities that still do nothing. What it
// costs beyond the ceiling is Temporal's price of the saga's features; what the saga
// costs beyond it is the saga's own work: its services, its HTTP calls, its state.
//
// The awaited ceiling is the ceiling placed as POST /v1/orders?wait= places an order:
// started by update-with-start with an update that returns when the workflow is done.
// What it costs beyond the ceiling is Temporal's price of following an order to its end
// in one round trip.
package bench

import (
	"context"
	"fmt"
	"time"

	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/saga"
)

// Registered names of the ceiling workflows.
const (
	CeilingWorkflowType        = "CeilingWorkflow"
	DressedCeilingWorkflowType = "DressedCeilingWorkflow"
	AwaitedCeilingWorkflowType = "AwaitedCeilingWorkflow"
)

// UpdateAwaitDone is the awaited ceiling's update: it returns once the workflow's steps
// are done, as the saga's await-settled update returns once the order settles.
const UpdateAwaitDone = "await-done"

// Step is one step of a workflow's shape.
type Step string

// The steps of a shape.
const (
	Activity      Step = "activity"
	LocalActivity Step = "local"
)

// CeilingWorkflow runs shape's steps one after another, each a no-op activity or local
// activity.
func CeilingWorkflow(ctx workflow.Context, shape []Step) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second})
	for i, s := range shape {
		var err error
		switch s {
		case Activity:
			err = workflow.ExecuteActivity(actx, Noop).Get(actx, nil)
		case LocalActivity:
			err = workflow.ExecuteLocalActivity(lctx, NoopLocal).Get(lctx, nil)
		default:
			err = fmt.Errorf("step %d: unknown kind %q", i, s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// AwaitedCeilingWorkflow runs shape's steps as CeilingWorkflow does, with the update
// UpdateAwaitDone, which returns when they are done (with their error, if any), so that
// a client can start it and follow it to its end in one request: update-with-start.
func AwaitedCeilingWorkflow(ctx workflow.Context, shape []Step) error {
	var done bool
	var stepsErr error
	if err := workflow.SetUpdateHandler(ctx, UpdateAwaitDone, func(ctx workflow.Context) error {
		if err := workflow.Await(ctx, func() bool { return done }); err != nil {
			return err
		}
		return stepsErr
	}); err != nil {
		return err
	}
	stepsErr = CeilingWorkflow(ctx, shape)
	done = true
	// The update's handler returns in this same workflow task; the workflow closes after it.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	return stepsErr
}

// DressedCeilingWorkflow runs shape's steps as CeilingWorkflow does, but as an order's
// workflow asks Temporal for them: it is started with an order's start options (search
// attributes, memo, the Web UI's summary and details) and the order as input, gives
// each activity the order and a summary, sets the OrderStatus search attribute to
// COMPLETED at the end and returns the order. Its activities do nothing.
func DressedCeilingWorkflow(ctx workflow.Context, shape []Step, in saga.OrderInput) (saga.OrderInput, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second})
	for i, s := range shape {
		var err error
		switch s {
		case Activity:
			actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: 10 * time.Second,
				Summary:             fmt.Sprintf("step %d of order %s: nothing", i+1, in.OrderID),
			})
			err = workflow.ExecuteActivity(actx, NoopWith, in).Get(actx, nil)
		case LocalActivity:
			err = workflow.ExecuteLocalActivity(lctx, NoopLocalWith, in).Get(lctx, nil)
		default:
			err = fmt.Errorf("step %d: unknown kind %q", i, s)
		}
		if err != nil {
			return in, err
		}
	}
	err := workflow.UpsertTypedSearchAttributes(ctx, saga.SearchAttrOrderStatus.ValueSet(string(saga.StatusCompleted)))
	return in, err
}

// Noop is the ceiling's activity: it does nothing.
func Noop(context.Context) error { return nil }

// NoopLocal is the ceiling's local activity: it does nothing.
func NoopLocal(context.Context) error { return nil }

// NoopWith is the dressed ceiling's activity: it is given the order and does nothing.
func NoopWith(context.Context, saga.OrderInput) error { return nil }

// NoopLocalWith is the dressed ceiling's local activity: it is given the order and does
// nothing.
func NoopLocalWith(context.Context, saga.OrderInput) error { return nil }

// Register registers the ceiling workflows and their activities on r.
func Register(r sdkworker.Registry) {
	r.RegisterWorkflowWithOptions(CeilingWorkflow, workflow.RegisterOptions{Name: CeilingWorkflowType})
	r.RegisterWorkflowWithOptions(DressedCeilingWorkflow, workflow.RegisterOptions{Name: DressedCeilingWorkflowType})
	r.RegisterWorkflowWithOptions(AwaitedCeilingWorkflow, workflow.RegisterOptions{Name: AwaitedCeilingWorkflowType})
	r.RegisterActivity(Noop)
	r.RegisterActivity(NoopLocal)
	r.RegisterActivity(NoopWith)
	r.RegisterActivity(NoopLocalWith)
}
