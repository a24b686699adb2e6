// Package api is the public HTTP API of ordersaga (Gin): customers place, follow and
// cancel orders; operators approve or reject large orders, steer stuck compensations and
// manage the catalogue.
//
// Handlers are thin: each binds the request, calls one use case of package app (or the
// catalogue), and renders the answer. Errors are mapped to HTTP answers once, in
// errors.go, and answered as application/problem+json.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
)

// Orders is what the API needs of the use cases; *app.Service provides it.
type Orders interface {
	Place(ctx context.Context, req app.PlaceRequest, key string, wait time.Duration) (app.Placed, error)
	Get(ctx context.Context, orderID string) (app.OrderView, error)
	GetLive(ctx context.Context, orderID string) (app.OrderView, error)
	Await(ctx context.Context, orderID string, d time.Duration) (app.OrderView, error)
	List(ctx context.Context, q order.ListQuery) (app.OrderList, error)
	Cancel(ctx context.Context, orderID string, d app.Decision) (app.OrderView, error)
	Decide(ctx context.Context, orderID string, a app.Action, d app.Decision) (app.OrderView, error)
}

// Catalog is what the API needs of the inventory service.
type Catalog interface {
	Products(ctx context.Context) ([]inventory.Product, error)
	UpsertProduct(ctx context.Context, sku string, u inventory.ProductUpdate) (inventory.Product, error)
}

var (
	_ Orders  = (*app.Service)(nil)
	_ Catalog = (*inventory.Client)(nil)
)

// Dependency is something /readyz checks.
type Dependency struct {
	Name  string
	Check func(ctx context.Context) error
}

// Config is the API's behaviour.
type Config struct {
	// OperatorTokens are the bearer tokens accepted on operator endpoints; with none,
	// operator endpoints answer 403.
	OperatorTokens []string
	// Codec is the codec server's; without a codec there is none.
	Codec CodecConfig
}

// Deps are the API's collaborators.
type Deps struct {
	Orders    Orders
	Catalog   Catalog
	Readiness []Dependency
	// Metrics receives the API's metrics and is served on /metrics; nil disables both.
	Metrics *prometheus.Registry
	// Middleware runs around every request (the process's telemetry: a span and the HTTP
	// metrics per request).
	Middleware []gin.HandlerFunc
}

// server holds what the handlers share.
type server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	m    *apiMetrics // nil without a registry
}

func (s *server) metrics() *apiMetrics { return s.m }

// New returns the API's HTTP handler.
func New(cfg Config, deps Deps, log *slog.Logger) http.Handler {
	s := &server{cfg: cfg, deps: deps, log: log}
	opts := httpx.Options{Middleware: deps.Middleware}
	if deps.Metrics != nil {
		s.m = newMetrics(deps.Metrics)
		opts.Metrics = promhttp.HandlerFor(deps.Metrics, promhttp.HandlerOpts{Registry: deps.Metrics})
	}
	r := httpx.NewEngine(log, codes, opts)
	r.GET("/readyz", s.readyz)
	r.GET("/openapi.yaml", serveOpenAPI)

	op := operatorOnly(cfg.OperatorTokens)
	v1 := r.Group("/v1")
	v1.POST("/orders", s.placeOrder)
	v1.GET("/orders", s.listOrders)
	v1.GET("/orders/:orderId", s.getOrder)
	v1.POST("/orders/:orderId/cancel", s.cancelOrder)
	v1.POST("/orders/:orderId/approve", op, s.decide(app.Approve))
	v1.POST("/orders/:orderId/reject", op, s.decide(app.Reject))
	v1.POST("/orders/:orderId/retry-compensations", op, s.decide(app.RetryCompensations))
	v1.POST("/orders/:orderId/resolve-manually", op, s.decide(app.ResolveManually))
	v1.GET("/products", s.listProducts)
	v1.PUT("/products/:sku", op, s.upsertProduct)
	s.mountCodec(r)
	return r
}
