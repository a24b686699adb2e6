// Package bench holds the ceiling that `make bench` measures the saga against: a workflow
// with the saga's shape — the same activities and local activities, in the same order —
// whose activities do nothing. On the same server and worker settings, its latency and
// throughput are what Temporal itself allows on the machine; the saga's figures divided
// by these are what the saga's own work costs.
package bench

import (
	"context"
	"fmt"
	"time"

	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// CeilingWorkflowType is the ceiling workflow's registered name.
const CeilingWorkflowType = "CeilingWorkflow"

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

// Noop is the ceiling's activity: it does nothing.
func Noop(context.Context) error { return nil }

// NoopLocal is the ceiling's local activity: it does nothing.
func NoopLocal(context.Context) error { return nil }

// Register registers the ceiling workflow and its activities on r.
func Register(r sdkworker.Registry) {
	r.RegisterWorkflowWithOptions(CeilingWorkflow, workflow.RegisterOptions{Name: CeilingWorkflowType})
	r.RegisterActivity(Noop)
	r.RegisterActivity(NoopLocal)
}
