package api

import (
	"github.com/prometheus/client_golang/prometheus"
)

// apiMetrics are the API's own metrics; requests are counted by the process's telemetry
// middleware (ordersaga_http_requests_total).
type apiMetrics struct {
	orders *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_orders_placed_total", Help: "Orders placed: started (new workflow) or replayed (same request again).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.orders)
	return m
}

func (m *apiMetrics) placed(created bool) {
	if m == nil {
		return
	}
	result := "replayed"
	if created {
		result = "started"
	}
	m.orders.WithLabelValues(result).Inc()
}
