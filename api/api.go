// Package api is the public HTTP API of ordersaga (Gin): customers place, follow and
// cancel orders; operators approve or reject large orders, steer stuck compensations and
// manage the catalogue.
//
// Handlers stay thin: each binds and validates the request, then starts, queries or
// updates an order's workflow, or reads the order or inventory service, and renders.
// Errors are mapped once, in errors.go, and answered as application/problem+json.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
)

// Temporal is what the API needs of a Temporal client.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	NewWithStartWorkflowOperation(options client.StartWorkflowOptions, workflow any, args ...any) client.WithStartWorkflowOperation
	UpdateWithStartWorkflow(ctx context.Context, options client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error)
	WorkflowService() workflowservice.WorkflowServiceClient
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
}

// Orders is what the API needs of the order service.
type Orders interface {
	Get(ctx context.Context, orderID string) (order.Order, error)
	List(ctx context.Context, q order.ListQuery) (order.Page, error)
}

// Catalog is what the API needs of the inventory service.
type Catalog interface {
	Products(ctx context.Context) ([]inventory.Product, error)
	UpsertProduct(ctx context.Context, sku string, u inventory.ProductUpdate) (inventory.Product, error)
	Quote(ctx context.Context, items []inventory.Item) (inventory.Quote, error)
}

var (
	_ Temporal = client.Client(nil)
	_ Orders   = (*order.Client)(nil)
	_ Catalog  = (*inventory.Client)(nil)
)

// Dependency is something /readyz checks.
type Dependency struct {
	Name  string
	Check func(ctx context.Context) error
}

// Config is the API's behaviour.
type Config struct {
	// TaskQueue is where orders' workflows run.
	TaskQueue string
	// Namespace and UIURL build the Web UI links of orders.
	Namespace string
	UIURL     string
	// OperatorTokens are the bearer tokens accepted on operator endpoints; with none,
	// operator endpoints answer 403.
	OperatorTokens []string
	// Policy is given to every new order (approval threshold and timeout, compensation
	// attempts).
	Policy saga.Policy
}

// Deps are the API's collaborators.
type Deps struct {
	Temporal  Temporal
	Orders    Orders
	Catalog   Catalog
	Readiness []Dependency
	// Metrics receives the API's metrics; nil disables /metrics.
	Metrics *prometheus.Registry
	// DataConverter decodes payloads read from Temporal's history: the Temporal client's
	// converter. Nil means the SDK's default.
	DataConverter converter.DataConverter
}

// MaxWait bounds the ?wait= of POST /v1/orders.
const MaxWait = 30 * time.Second

// server holds what the handlers share.
type server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	m    *apiMetrics // nil without a registry
}

func (s *server) metrics() *apiMetrics { return s.m }

func (s *server) dataConverter() converter.DataConverter {
	if s.deps.DataConverter != nil {
		return s.deps.DataConverter
	}
	return converter.GetDefaultDataConverter()
}

// New returns the API's HTTP handler.
func New(cfg Config, deps Deps, log *slog.Logger) http.Handler {
	s := &server{cfg: cfg, deps: deps, log: log}
	var outer []gin.HandlerFunc
	if deps.Metrics != nil {
		s.m = newMetrics(deps.Metrics)
		outer = append(outer, s.m.middleware())
	}
	r := httpx.NewEngine(log, codes, outer...)
	if deps.Metrics != nil {
		r.GET("/metrics", gin.WrapH(metricsHandler(deps.Metrics)))
	}
	r.GET("/readyz", s.readyz)
	r.GET("/openapi.yaml", serveOpenAPI)

	op := operatorOnly(cfg.OperatorTokens)
	v1 := r.Group("/v1")
	v1.POST("/orders", s.placeOrder)
	v1.GET("/orders", s.listOrders)
	v1.GET("/orders/:orderId", s.getOrder)
	v1.POST("/orders/:orderId/cancel", s.cancelOrder)
	v1.POST("/orders/:orderId/approve", op, s.decide(saga.UpdateApprove))
	v1.POST("/orders/:orderId/reject", op, s.decide(saga.UpdateReject))
	v1.POST("/orders/:orderId/retry-compensations", op, s.decide(saga.UpdateRetryCompensations))
	v1.POST("/orders/:orderId/resolve-manually", op, s.decide(saga.UpdateResolveManually))
	v1.GET("/products", s.listProducts)
	v1.PUT("/products/:sku", op, s.upsertProduct)
	return r
}
