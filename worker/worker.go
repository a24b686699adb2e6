// Package worker builds the Temporal worker that hosts OrderWorkflow and its activities.
// The worker process's composition root (cmd/worker) and the tests share it, so that what
// the tests register is what production runs.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/workflows"
)

// StopTimeout is how long a stopping worker lets running activities finish.
const StopTimeout = 15 * time.Second

// New returns a worker on taskQueue that runs OrderWorkflow and the activities in acts.
// Start it with Run or Start; Stop drains running activities for up to StopTimeout.
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, Options())
	Register(w, acts)
	return w
}

// Options are the worker's settings (make bench's ceiling worker runs with the same).
//
// Workflow tasks are polled by the SDK's autoscaling pollers rather than by its default of
// two "mixed" pollers. A mixed poller polls the worker's sticky queue whenever the last
// sticky answer reported a backlog; when that report is stale, both pollers wait on the
// sticky queue and a new order's first workflow task sits on the normal queue for a whole
// matching long poll (a minute): BENCHMARKS.md records such a wait, with this as its
// likely cause. The autoscaling pollers'
// normal and sticky pollers are separate pools, and their shared balancer always lets a
// first normal poll through and favours the sticky queue only for a backlog of two or
// more, so new orders are always being polled for.
func Options() sdkworker.Options {
	return sdkworker.Options{
		WorkerStopTimeout: StopTimeout,
		// The SDK's defaults: the normal and the sticky queue each keep 1 to 100 polls
		// open, starting from 5.
		WorkflowTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{}),
	}
}

// Register registers OrderWorkflow under its type name and the activities on r.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.OrderWorkflow, workflow.RegisterOptions{Name: saga.WorkflowType})
	r.RegisterActivity(acts)
}
