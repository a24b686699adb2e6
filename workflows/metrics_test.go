package workflows_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
	"github.com/ordersaga/ordersaga/workflows"
)

// metricsCapture is a metrics handler that keeps what the saga reports, keyed by name and
// the saga's own labels (the SDK's labels, such as namespace, are left out of the key).
type metricsCapture struct {
	mu     *sync.Mutex
	tags   map[string]string
	counts map[string]int64
	timers map[string][]time.Duration
	hists  map[string][]int64
}

var _ workflows.IntHistograms = (*metricsCapture)(nil)

func newMetricsCapture() *metricsCapture {
	return &metricsCapture{mu: &sync.Mutex{}, tags: map[string]string{},
		counts: map[string]int64{}, timers: map[string][]time.Duration{}, hists: map[string][]int64{}}
}

// sagaLabels are the labels the key keeps.
var sagaLabels = []string{"outcome", "failed_step", "error_type", "step", "result", "service"}

func (m *metricsCapture) key(name string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m.tags)) {
		if slices.Contains(sagaLabels, k) && m.tags[k] != "" {
			kv = append(kv, k+"="+m.tags[k])
		}
	}
	return name + "{" + strings.Join(kv, ",") + "}"
}

func (m *metricsCapture) WithTags(tags map[string]string) client.MetricsHandler {
	c := *m
	c.tags = maps.Clone(m.tags)
	maps.Copy(c.tags, tags)
	return &c
}

func (m *metricsCapture) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.counts[m.key(name)] += d
	})
}

func (m *metricsCapture) Gauge(name string) client.MetricsGauge {
	return client.MetricsNopHandler.Gauge(name)
}

func (m *metricsCapture) Timer(name string) client.MetricsTimer {
	return timerFunc(func(d time.Duration) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.timers[m.key(name)] = append(m.timers[m.key(name)], d)
	})
}

func (m *metricsCapture) IntHistogram(name string, _ []float64) func(int64) {
	return func(n int64) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.hists[m.key(name)] = append(m.hists[m.key(name)], n)
	}
}

func (m *metricsCapture) count(key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[key]
}

func (m *metricsCapture) timed(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.timers[key])
}

func (m *metricsCapture) observed(key string) []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.hists[key])
}

// TestSagaMetrics runs k completed and m rejected orders, a flaky charge and a stuck
// refund through one handler, as one worker would, and reads the counters.
func TestSagaMetrics(t *testing.T) {
	const completed, rejected = 3, 2
	m := newMetricsCapture()
	for range completed {
		h := newHarnessWithMetrics(t, m)
		h.run(testOrder())
		h.wantOutcome("", saga.StatusCompleted)
	}
	for range rejected {
		h := newHarnessWithMetrics(t, m)
		h.fakes.failNext("ChargePayment", payment.ErrPaymentDeclined)
		h.run(testOrder())
		h.wantOutcome(saga.PaymentDeclined, saga.StatusRejected)
	}
	flaky := newHarnessWithMetrics(t, m)
	flaky.fakes.failNext("ChargePayment", unavailable("pm_card_flaky attempt 1"))
	flaky.run(testOrder())
	flaky.wantOutcome("", saga.StatusCompleted)

	stuck := newHarnessWithMetrics(t, m)
	stuck.fakes.failNext("ScheduleShipping", shipping.ErrShippingUnavailable)
	stuck.fakes.failAlways("RefundPayment", unavailable("refunds are down"))
	stuck.env.RegisterDelayedCallback(func() {
		stuck.fakes.failAlways("RefundPayment", nil)
		stuck.env.SignalWorkflow(saga.SignalRetryCompensations, saga.Decision{By: "ops"})
	}, time.Hour)
	stuck.run(testOrder())
	stuck.wantOutcome(saga.ShippingUnavailable, saga.StatusRejected)

	for key, want := range map[string]int64{
		"ordersaga_orders_started{}":                   completed + rejected + 2,
		"ordersaga_orders_finished{outcome=completed}": completed + 1,
		"ordersaga_orders_finished{error_type=PaymentDeclined,failed_step=ChargePayment,outcome=rejected}":        rejected,
		"ordersaga_orders_finished{error_type=ShippingUnavailable,failed_step=ScheduleShipping,outcome=rejected}": 1,
		// Each rejected order undid the reservation and the order row.
		"ordersaga_compensations{result=succeeded,step=ReserveInventory}": rejected + 1,
		"ordersaga_compensations{result=succeeded,step=CreateOrder}":      rejected + 1,
		// The stuck refund: failed once (parking the order), succeeded on the retry.
		"ordersaga_compensations{result=failed,step=ChargePayment}":    1,
		"ordersaga_compensations{result=succeeded,step=ChargePayment}": 1,
		"ordersaga_orders_needed_attention{step=ChargePayment}":        1,
	} {
		if got := m.count(key); got != want {
			t.Errorf("%s = %d, want %d", key, got, want)
		}
	}
	if got := m.timed("ordersaga_saga_duration{outcome=completed}"); got != completed+1 {
		t.Errorf("saga durations recorded for completed orders = %d, want %d", got, completed+1)
	}
	if got := m.timed("ordersaga_step_duration{result=failed,step=ChargePayment}"); got != rejected {
		t.Errorf("failed ChargePayment durations = %d, want %d", got, rejected)
	}
	attempts := m.observed("ordersaga_step_attempts{step=ChargePayment}")
	slices.Sort(attempts)
	// 3 + 1 completed charges at their first attempt (one of them is the stuck order's),
	// 2 declined at the first, the flaky one at the second.
	if want := []int64{1, 1, 1, 1, 1, 1, 2}; !slices.Equal(attempts, want) {
		t.Errorf("ChargePayment attempts = %v, want %v", attempts, want)
	}
	calls := m.timed(activities.MetricServiceCallDuration + "{outcome=ok,service=payment}")
	if calls == 0 {
		t.Errorf("no service call latency recorded for payment; timers: %v", fmt.Sprint(slices.Sorted(maps.Keys(m.timers))))
	}
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
