// Package telemetry gives a process its metrics and traces, and hands them to the parts
// that produce them: the Temporal client (the SDK's metrics and its tracing interceptor),
// Gin (a span and the HTTP metrics per request), outgoing HTTP calls (a client span, the
// trace context in the headers), GORM (a span per SQL statement) and the logger (the trace
// ID on every line logged inside a span).
//
// Metrics live in one Prometheus registry per process (or per service), served on /metrics.
// The Temporal SDK reports through OpenTelemetry; its meter provider exports into that
// same registry, with the names the SDK gives them, so Temporal's published SDK dashboard
// works unchanged. Traces are always sampled and exported over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set; without it spans are made (the trace ID still reaches
// the logs and the order view) and dropped.
//
// Nothing here is global: each composition root builds one Telemetry and passes it on.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// EnvOTLPEndpoint names the variable that switches trace export on.
const EnvOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"

// LatencyBuckets are the bucket bounds, in seconds, of every latency histogram: from a
// millisecond (a local call) to two minutes (a saga that retried a step).
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// Config says where traces go.
type Config struct {
	// OTLPEndpoint is OTEL_EXPORTER_OTLP_ENDPOINT (http://host:4318): with it, spans are
	// exported over OTLP/HTTP (the exporter reads the other OTEL_EXPORTER_OTLP_* variables
	// too); without it, none are.
	OTLPEndpoint string
	// SpanExporter, when set, receives the spans as well (tests use an in-memory one).
	SpanExporter sdktrace.SpanExporter
}

// Telemetry is one process's metrics and tracing.
type Telemetry struct {
	// Registry holds the process's Prometheus metrics, the SDK's included.
	Registry *prometheus.Registry
	// Meters exports OpenTelemetry metrics (the Temporal SDK's) into Registry.
	Meters *sdkmetric.MeterProvider
	// Tracers makes the spans.
	Tracers *sdktrace.TracerProvider
	// Propagator carries the trace context across HTTP and Temporal (W3C traceparent).
	Propagator propagation.TextMapPropagator

	process string
	http    *httpMetrics
	log     *slog.Logger
}

// New builds the telemetry of process (api, worker, order, ...). Call Shutdown before the
// process exits, so that the last spans are exported.
func New(ctx context.Context, process string, cfg Config, log *slog.Logger) (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("ordersaga-" + process))
	meters := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(exporter),
		// Latencies are recorded in seconds; the SDK's default bounds suit milliseconds.
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: LatencyBuckets}},
		)),
	)

	// Every span is recorded when something exports them. With nothing to export them to,
	// none is: spans still carry trace IDs (into the logs, and on to the next process),
	// but their attributes and timings, which nobody would read, are not gathered.
	sampler := sdktrace.NeverSample()
	if cfg.OTLPEndpoint != "" || cfg.SpanExporter != nil {
		sampler = sdktrace.AlwaysSample()
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlptracehttp.New(ctx, endpointOption(cfg.OTLPEndpoint))
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter for %s: %w", cfg.OTLPEndpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	if cfg.SpanExporter != nil {
		opts = append(opts, sdktrace.WithSyncer(cfg.SpanExporter))
	}
	t := &Telemetry{
		Registry:   reg,
		Meters:     meters,
		Tracers:    sdktrace.NewTracerProvider(opts...),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		process:    process,
		log:        log,
	}
	t.http = newHTTPMetrics(reg)
	return t, nil
}

// endpointOption reads an OTEL_EXPORTER_OTLP_ENDPOINT value: a base URL, to which the
// exporter adds /v1/traces, as the specification says.
func endpointOption(endpoint string) otlptracehttp.Option {
	u := strings.TrimSuffix(endpoint, "/") + "/v1/traces"
	return otlptracehttp.WithEndpointURL(u)
}

// Shutdown exports the spans still buffered and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.Tracers.Shutdown(ctx), t.Meters.Shutdown(ctx))
}

// CloseTimeout bounds Close.
const CloseTimeout = 5 * time.Second

// Close is Shutdown for a process on its way out: within CloseTimeout, a failure logged.
func (t *Telemetry) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		t.log.Warn("telemetry shutdown", "error", err)
	}
}

// Handler serves the registry in the Prometheus text format (GET /metrics).
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{Registry: t.Registry})
}

// Tracer is the tracer of the process's own spans.
func (t *Telemetry) Tracer() trace.Tracer {
	return t.Tracers.Tracer("github.com/ordersaga/ordersaga")
}

// TraceID is the ID of the trace ctx's span is part of, or "" outside a trace.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}
