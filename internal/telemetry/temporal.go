package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// SagaPrefix starts the names of the saga's own metrics.
const SagaPrefix = "ordersaga_"

// ConfigureTemporal sets the client's metrics handler and tracing interceptor, so that
// the SDK's metrics reach /metrics and every start, signal, update, workflow and activity
// is a span of the caller's trace (the trace context travels in Temporal's headers).
func (t *Telemetry) ConfigureTemporal(opts *client.Options) error {
	tracing, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            t.Tracers.Tracer("temporal-sdk-go"),
		TextMapPropagator: t.Propagator,
	})
	if err != nil {
		return fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	opts.Interceptors = append(opts.Interceptors, tracing)
	opts.MetricsHandler = t.TemporalMetrics()
	return nil
}

// TemporalMetrics is the metrics handler for the Temporal SDK and for the saga's metrics
// emitted through it (workflow.GetMetricsHandler, activity.GetMetricsHandler).
//
// The SDK's counters go out as the SDK names them (temporal_request, an up-down counter
// without a _total suffix), which is what Temporal's Go SDK dashboard queries. Counters
// named with SagaPrefix are monotonic instead, and so end in _total, as Prometheus counters
// should.
func (t *Telemetry) TemporalMetrics() client.MetricsHandler {
	meter := t.Meters.Meter("temporal-sdk-go")
	onError := func(err error) { t.log.Warn("temporal metric", "error", err) }
	saga := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{Meter: meter, OnError: onError, UseMonotonicCounters: true})
	return routedHandler{
		sdk:  temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{Meter: meter, OnError: onError}),
		saga: func() client.MetricsHandler { return saga },
	}
}

// routedHandler sends the saga's counters to a monotonic handler and the SDK's to the
// SDK's usual one. IntHistogram reaches the saga's OpenTelemetry handler, for the
// histograms the SDK's interface has no place for (see temporalotel.ExtractMetricsHandler).
//
// The SDK tags its handler for every task it runs, and each tagging builds an attribute
// set: 7 % of the worker's CPU at load, half of it for the saga's handler, which few
// tasks use. That one is tagged when first used.
type routedHandler struct {
	sdk  client.MetricsHandler
	saga func() client.MetricsHandler
}

func (h routedHandler) WithTags(tags map[string]string) client.MetricsHandler {
	parent := h.saga
	return routedHandler{
		sdk:  h.sdk.WithTags(tags),
		saga: sync.OnceValue(func() client.MetricsHandler { return parent().WithTags(tags) }),
	}
}

func (h routedHandler) pick(name string) client.MetricsHandler {
	if strings.HasPrefix(name, SagaPrefix) {
		return h.saga()
	}
	return h.sdk
}

func (h routedHandler) Counter(name string) client.MetricsCounter { return h.pick(name).Counter(name) }
func (h routedHandler) Gauge(name string) client.MetricsGauge     { return h.pick(name).Gauge(name) }
func (h routedHandler) Timer(name string) client.MetricsTimer     { return h.pick(name).Timer(name) }

// IntHistogram returns a recorder of integer observations (a step's attempts) with the
// handler's tags. Unlike the SDK's own instruments it does not know about replay: the
// workflow calls it only when not replaying.
func (h routedHandler) IntHistogram(name string, buckets []float64) func(int64) {
	otel := temporalotel.ExtractMetricsHandler(h.saga())
	hist, err := otel.GetMeter().Int64Histogram(name, metric.WithExplicitBucketBoundaries(buckets...))
	if err != nil {
		return func(int64) {}
	}
	attrs := otel.GetAttributes()
	return func(n int64) { hist.Record(context.Background(), n, metric.WithAttributeSet(attrs)) }
}

// Logger returns log with a handler that adds trace_id and span_id to every record logged
// with a context inside a span.
func Logger(log *slog.Logger) *slog.Logger {
	return slog.New(traceHandler{log.Handler()})
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
