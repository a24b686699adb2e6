package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/saga"
)

// ObserveInterval is how often, by default, Observer counts parked orders and reads the backlog.
const ObserveInterval = 15 * time.Second

// Observer reports, as gauges, what no single workflow can count and what must survive a
// worker restart: how many orders wait in each status an operator cares about (from a
// visibility count over the OrderStatus search attribute, so every worker reports the same
// number: aggregate with max, not sum), and the task queue's backlog (from Temporal's own
// task-queue statistics).
//
// The backlog comes from DescribeTaskQueue rather than the SDK's schedule-to-start latency:
// it counts the tasks waiting now, also when no worker polls at all (the case an operator
// most needs to see), while schedule-to-start latency is only reported once a worker has
// picked a task up. The SDK's latency is on /metrics as well, for the alert on slow pickup.
type Observer struct {
	c         client.Client
	namespace string
	taskQueue string
	log       *slog.Logger

	inStatus *prometheus.GaugeVec
	backlog  *prometheus.GaugeVec
	age      *prometheus.GaugeVec
	errors   prometheus.Counter
}

// ObservedStatuses are the statuses whose orders are counted.
var ObservedStatuses = []saga.OrderStatus{saga.StatusNeedsAttention, saga.StatusAwaitingApproval, saga.StatusCompensating}

// NewObserver registers the gauges on reg.
func NewObserver(c client.Client, namespace, taskQueue string, reg prometheus.Registerer, log *slog.Logger) *Observer {
	o := &Observer{
		c: c, namespace: namespace, taskQueue: taskQueue, log: log,
		inStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ordersaga_orders_in_status",
			Help: "Running orders in a status that waits on people or retries (visibility count; every worker reports it: use max).",
		}, []string{"status"}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ordersaga_task_queue_backlog",
			Help: "Tasks waiting in the orders task queue, by type (Temporal's approximate backlog count).",
		}, []string{"task_queue_type"}),
		age: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ordersaga_task_queue_backlog_age_seconds",
			Help: "Age of the oldest task waiting in the orders task queue, by type.",
		}, []string{"task_queue_type"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersaga_observer_errors_total", Help: "Failed visibility counts and task-queue reads.",
		}),
	}
	reg.MustRegister(o.inStatus, o.backlog, o.age, o.errors)
	return o
}

// Run observes every interval until ctx ends.
func (o *Observer) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := o.Observe(ctx); err != nil && ctx.Err() == nil {
			o.errors.Inc()
			o.log.Warn("observe orders and task queue", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Observe updates the gauges once.
func (o *Observer) Observe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range ObservedStatuses {
		resp, err := o.c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: o.namespace,
			Query: fmt.Sprintf(`WorkflowType = %q AND ExecutionStatus = "Running" AND %s = %q`,
				saga.WorkflowType, saga.SearchAttrOrderStatus.GetName(), s),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("count %s orders: %w", s, err))
			continue
		}
		o.inStatus.WithLabelValues(string(s)).Set(float64(resp.GetCount()))
	}
	for _, tqt := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := o.describe(ctx, tqt, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("describe the %s task queue: %w", tqt, err))
			continue
		}
		label := typeLabel(tqt)
		o.backlog.WithLabelValues(label).Set(float64(resp.GetStats().GetApproximateBacklogCount()))
		o.age.WithLabelValues(label).Set(resp.GetStats().GetApproximateBacklogAge().AsDuration().Seconds())
	}
	return errors.Join(errs...)
}

func (o *Observer) describe(ctx context.Context, tqt enumspb.TaskQueueType, stats bool) (*workflowservice.DescribeTaskQueueResponse, error) {
	return o.c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace:     o.namespace,
		TaskQueue:     &taskqueuepb.TaskQueue{Name: o.taskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: tqt,
		ReportStats:   stats,
	})
}

func typeLabel(t enumspb.TaskQueueType) string {
	if t == enumspb.TASK_QUEUE_TYPE_ACTIVITY {
		return "activity"
	}
	return "workflow"
}

// Polling returns a readiness check: nil once identity is among the pollers of both the
// workflow and the activity task queue, that is, once this worker is connected and polling.
func (o *Observer) Polling(identity string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		for _, tqt := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
			resp, err := o.describe(ctx, tqt, false)
			if err != nil {
				return fmt.Errorf("temporal: %w", err)
			}
			if !slices.ContainsFunc(resp.GetPollers(), func(p *taskqueuepb.PollerInfo) bool { return p.GetIdentity() == identity }) {
				return fmt.Errorf("not polling the %s task queue %q yet", typeLabel(tqt), o.taskQueue)
			}
		}
		return nil
	}
}
