package telemetry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// httpMetrics are the metrics of the HTTP requests a process serves.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_http_requests_total", Help: "HTTP requests served, by route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ordersaga_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route.",
			Buckets: LatencyBuckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Middleware is the outermost Gin middleware of a process's engine: it starts the
// request's span (continuing the caller's trace from its traceparent header) and counts
// the request by route and final status. Routes, not paths, label the metrics, so an order
// ID never becomes a label.
func (t *Telemetry) Middleware() []gin.HandlerFunc {
	trace := otelgin.Middleware("ordersaga-"+t.process,
		otelgin.WithTracerProvider(t.Tracers),
		otelgin.WithPropagators(t.Propagator),
		otelgin.WithGinFilter(func(c *gin.Context) bool { return !quiet(c.FullPath()) }),
	)
	count := func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		t.http.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
		t.http.duration.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
	}
	return []gin.HandlerFunc{count, trace}
}

// quiet reports whether route is a probe or a scrape, which get no span.
func quiet(route string) bool {
	return route == "/healthz" || route == "/readyz" || route == "/metrics"
}

// Transport wraps base (nil: http.DefaultTransport) so that each outgoing request is a
// client span whose context travels in the request's traceparent header.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(t.Tracers),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
	)
}
