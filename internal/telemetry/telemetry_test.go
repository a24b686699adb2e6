package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ordersaga/ordersaga/internal/telemetry"
)

func newTelemetry(t *testing.T, cfg telemetry.Config) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.New(context.Background(), "test", cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

func scrape(t *testing.T, tel *telemetry.Telemetry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

// The SDK's metrics keep the names Temporal's Go SDK dashboard queries; the saga's
// counters are Prometheus counters (_total); timers are histograms in seconds with
// buckets that suit seconds.
func TestTemporalMetricsNames(t *testing.T) {
	tel := newTelemetry(t, telemetry.Config{})
	h := tel.TemporalMetrics().WithTags(map[string]string{"namespace": "default"})
	h.Counter("temporal_request").Inc(2)
	h.Timer("temporal_request_latency").Record(30 * time.Millisecond)
	h.WithTags(map[string]string{"outcome": "completed"}).Counter("ordersaga_orders_finished").Inc(1)
	got := scrape(t, tel)
	for _, want := range []string{
		`temporal_request{namespace="default"} 2`,
		`temporal_request_latency_seconds_bucket{namespace="default",le="0.025"} 0`,
		`temporal_request_latency_seconds_bucket{namespace="default",le="0.05"} 1`,
		`ordersaga_orders_finished_total{namespace="default",outcome="completed"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(got, "temporal_request_total") {
		t.Error("the SDK's counter got a _total suffix: Temporal's dashboard would find nothing")
	}
}

// Spans reach an exporter; the logger stamps records made inside a span with its IDs.
func TestSpansAndTraceIDsInLogs(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel := newTelemetry(t, telemetry.Config{SpanExporter: exp})
	var buf bytes.Buffer
	log := telemetry.Logger(slog.New(slog.NewTextHandler(&buf, nil)))

	ctx, span := tel.Tracer().Start(context.Background(), "work")
	log.InfoContext(ctx, "inside")
	span.End()
	log.InfoContext(context.Background(), "outside")

	id := telemetry.TraceID(ctx)
	if len(id) != 32 || telemetry.TraceID(context.Background()) != "" {
		t.Fatalf("TraceID = %q inside, %q outside", id, telemetry.TraceID(context.Background()))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "trace_id="+id) || strings.Contains(lines[1], "trace_id") {
		t.Errorf("log lines:\n%s\nwant trace_id=%s on the first only", buf.String(), id)
	}
	if spans := exp.GetSpans(); len(spans) != 1 || spans[0].Name != "work" {
		t.Errorf("exported %d spans, want the one", len(spans))
	}
}
