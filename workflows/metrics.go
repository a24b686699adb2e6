package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/saga"
)

// The saga's metrics. They are emitted through the workflow's metrics handler, which
// drops them while the workflow replays: an order counts once, whichever worker runs it
// and however often its history is replayed (after a worker restart, or when it falls out
// of the sticky cache). Labels are steps, outcomes and error types, never order IDs.
//
// Counters end in _total on /metrics, timers in _seconds (a histogram).
const (
	// MetricOrdersStarted counts sagas started.
	MetricOrdersStarted = "ordersaga_orders_started"
	// MetricOrdersFinished counts sagas that reached a final status, by outcome
	// (completed, rejected, cancelled) and, for a rejection, failed_step and error_type.
	MetricOrdersFinished = "ordersaga_orders_finished"
	// MetricOrdersNeededAttention counts the times an order was parked in
	// NEEDS_ATTENTION, by the step whose compensation failed.
	MetricOrdersNeededAttention = "ordersaga_orders_needed_attention"
	// MetricCompensations counts compensation runs, by step and result (succeeded,
	// failed: retries exhausted).
	MetricCompensations = "ordersaga_compensations"
	// MetricSagaDuration is the time from the workflow's start to its final status, by
	// outcome.
	MetricSagaDuration = "ordersaga_saga_duration"
	// MetricStepDuration is the time of a forward step, its retries included, by step and
	// result (completed, failed).
	MetricStepDuration = "ordersaga_step_duration"
	// MetricStepAttempts is the number of attempts a forward step took, by step: 1 when it
	// was not retried.
	MetricStepAttempts = "ordersaga_step_attempts"
)

// attemptBuckets bound MetricStepAttempts (stepRetry allows 5; confirming is unbounded).
var attemptBuckets = []float64{1, 2, 3, 4, 5, 10, 20}

// metrics emits the saga's metrics for one order.
type metrics struct {
	h client.MetricsHandler
}

func newMetrics(ctx workflow.Context) metrics {
	return metrics{h: workflow.GetMetricsHandler(ctx)}
}

func (m metrics) started() {
	m.h.Counter(MetricOrdersStarted).Inc(1)
}

func (m metrics) finished(ctx workflow.Context, st *saga.OrderState) {
	outcome := strings.ToLower(string(st.Status))
	tags := map[string]string{"outcome": outcome, "failed_step": "", "error_type": ""}
	if f := st.Failure; f != nil && st.Status == saga.StatusRejected {
		tags["failed_step"], tags["error_type"] = string(f.Step), f.Type
	}
	m.h.WithTags(tags).Counter(MetricOrdersFinished).Inc(1)
	m.h.WithTags(map[string]string{"outcome": outcome}).Timer(MetricSagaDuration).
		Record(workflow.Now(ctx).Sub(workflow.GetInfo(ctx).WorkflowStartTime))
}

func (m metrics) neededAttention(step saga.Step) {
	m.h.WithTags(map[string]string{"step": string(step)}).Counter(MetricOrdersNeededAttention).Inc(1)
}

func (m metrics) compensated(step saga.Step, err error) {
	result := "succeeded"
	if err != nil {
		result = "failed"
	}
	m.h.WithTags(map[string]string{"step": string(step), "result": result}).Counter(MetricCompensations).Inc(1)
}

// stepDone records a forward step's duration (since started) and its attempts.
func (m metrics) stepDone(ctx workflow.Context, step saga.Step, started time.Time, attempts int32, err error) {
	result := "completed"
	if err != nil {
		result = "failed"
	}
	m.h.WithTags(map[string]string{"step": string(step), "result": result}).Timer(MetricStepDuration).
		Record(workflow.Now(ctx).Sub(started))
	if attempts > 0 {
		m.attempts(ctx, step, attempts)
	}
}

// attempts records a histogram, which the SDK's metrics interface has no place for: through
// the worker's handler when it offers integer histograms (telemetry's does), and, as the
// handler itself would, not while replaying.
func (m metrics) attempts(ctx workflow.Context, step saga.Step, n int32) {
	if workflow.IsReplaying(ctx) {
		return
	}
	if hs := findHistograms(m.h.WithTags(map[string]string{"step": string(step)})); hs != nil {
		hs.IntHistogram(MetricStepAttempts, attemptBuckets)(int64(n))
	}
}

// IntHistograms is what a metrics handler may offer beyond the SDK's interface: a
// histogram of integers with the handler's tags.
type IntHistograms interface {
	IntHistogram(name string, buckets []float64) func(int64)
}

// findHistograms looks for IntHistograms through the handlers the SDK wraps around the
// worker's (each has Unwrap).
func findHistograms(h client.MetricsHandler) IntHistograms {
	for h != nil {
		if hs, ok := h.(IntHistograms); ok {
			return hs
		}
		u, ok := h.(interface{ Unwrap() client.MetricsHandler })
		if !ok {
			return nil
		}
		h = u.Unwrap()
	}
	return nil
}
