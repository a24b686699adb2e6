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
// Workflow tasks keep the SDK's default pollers. Its autoscaling pollers always keep a poll
// on the normal queue, which would rule out the likely cause of a rare minute-long wait
// for a new order's first task (BENCHMARKS.md, run AA), but with them accepting an order
// under 32 clients took 3.6 to 5.6 times as long (run CC).
func Options() sdkworker.Options {
	return sdkworker.Options{WorkerStopTimeout: StopTimeout}
}

// Register registers OrderWorkflow under its type name and the activities on r.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.OrderWorkflow, workflow.RegisterOptions{Name: saga.WorkflowType})
	r.RegisterActivity(acts)
}
