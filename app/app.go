// Package app is ordersaga's application layer: the use cases of placing and following
// orders, and of steering them, in one place that the HTTP API, the starter CLI and the
// tests all call. Place an order (price it, start its saga, wait for it), read one or a
// page of them, wait for one to settle, cancel it, and the operators' decisions: approve,
// reject, retry-compensations, resolve-manually.
//
// A use case knows nothing of HTTP: it takes the request's values and returns an
// OrderView or one of this package's errors (or a dependency's: a validation error, an
// unavailable service), which the API maps to HTTP answers in one table. It reaches the
// saga through Sagas (workflows.Client in production), the read model through Orders
// (the order service) and prices through Catalog (the inventory service).
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/workflows"
)

// Errors of the use cases. Together with validation errors, the services' errors and
// httpx.ErrUnavailable, they are all a caller sees.
var (
	// ErrOrderNotFound: no order has this ID.
	ErrOrderNotFound = errors.New("order not found")
	// ErrOrderExists: an order with this ID exists with a different body.
	ErrOrderExists = errors.New("an order with this ID already exists with a different body")
	// ErrKeyReused: the Idempotency-Key was used before with a different body.
	ErrKeyReused = errors.New("idempotency key already used with a different body")
	// ErrInvalidState: the order's state does not allow the request (cancelling past the
	// point of no return, approving an order that does not await approval, ...).
	ErrInvalidState = errors.New("the order's state does not allow this")
)

// Sagas is what the use cases need of the orders' workflows; workflows.Client provides it.
type Sagas interface {
	Start(ctx context.Context, in saga.OrderInput, p workflows.Placement) (runID string, err error)
	StartAndAwait(ctx context.Context, in saga.OrderInput, p workflows.Placement) (st saga.OrderState, runID string, err error)
	Describe(ctx context.Context, orderID string) (workflows.Execution, error)
	Input(ctx context.Context, orderID, runID string) (saga.OrderInput, error)
	Query(ctx context.Context, orderID string) (saga.OrderState, error)
	Update(ctx context.Context, orderID, name string, d saga.Decision) (saga.OrderState, error)
	Watch(ctx context.Context, orderID, runID string, token []byte) (next []byte, moved bool, err error)
}

// Orders is the read model: the order service, which holds each order with the saga's
// view of it.
type Orders interface {
	Get(ctx context.Context, orderID string) (order.Order, error)
	List(ctx context.Context, q order.ListQuery) (order.Page, error)
}

// Catalog prices items: the inventory service.
type Catalog interface {
	Quote(ctx context.Context, items []inventory.Item) (inventory.Quote, error)
}

var (
	_ Sagas   = (*workflows.Client)(nil)
	_ Orders  = (*order.Client)(nil)
	_ Catalog = (*inventory.Client)(nil)
)

// Config is the behaviour of the use cases.
type Config struct {
	// Namespace and UIURL build the Web UI links of orders.
	Namespace, UIURL string
	// Policy is given to every new order (approval threshold and timeout, compensation
	// attempts).
	Policy saga.Policy
}

// Service runs the use cases. It is safe for concurrent use.
type Service struct {
	cfg     Config
	sagas   Sagas
	orders  Orders
	catalog Catalog
	log     *slog.Logger
}

// New returns the use cases over their dependencies.
func New(cfg Config, sagas Sagas, orders Orders, catalog Catalog, log *slog.Logger) *Service {
	return &Service{cfg: cfg, sagas: sagas, orders: orders, catalog: catalog, log: log}
}

// OrderView is an order as callers see it: the saga's state of it, plus links.
type OrderView struct {
	saga.OrderState
	Links Links `json:"links"`
}

// Links point at the order in the API and in the Temporal Web UI.
type Links struct {
	Self       string `json:"self"`
	TemporalUI string `json:"temporalUI"`
}

// viewOf adds the links to an order's state, and makes its lists non-nil.
func (s *Service) viewOf(st saga.OrderState) OrderView {
	if st.Steps == nil {
		st.Steps = []saga.StepState{}
	}
	if st.Items == nil {
		st.Items = []saga.Item{}
	}
	if st.SubtotalCents == 0 { // a view written before orders had coupons
		st.SubtotalCents = st.TotalCents + st.DiscountCents
	}
	ui := fmt.Sprintf("%s/namespaces/%s/workflows/%s", s.cfg.UIURL, url.PathEscape(s.cfg.Namespace), url.PathEscape(st.WorkflowID))
	if st.RunID != "" {
		ui += "/" + url.PathEscape(st.RunID) + "/history"
	}
	return OrderView{OrderState: st, Links: Links{Self: "/v1/orders/" + st.OrderID, TemporalUI: ui}}
}

// initialState is the state of an order whose workflow run runID was started at start.
func initialState(in saga.OrderInput, runID string, start time.Time) saga.OrderState {
	st := saga.OrderState{
		OrderID: in.OrderID, CustomerID: in.CustomerID, Items: in.Items, SubtotalCents: in.TotalCents,
		CouponCode: in.CouponCode, TotalCents: in.TotalCents, Currency: in.Currency, Status: saga.StatusPending, WorkflowID: saga.WorkflowID(in.OrderID),
		RunID: runID, CreatedAt: start.UTC(), UpdatedAt: start.UTC(), TraceID: in.TraceID,
	}
	for _, step := range saga.Steps {
		st.Steps = append(st.Steps, saga.StepState{Name: step, Status: saga.StepPending})
	}
	return st
}

// fromTemporal maps an error of the Temporal client, for the order orderID, to the use
// cases' errors: a missing workflow, a refused update, an unreachable server.
func fromTemporal(orderID string, err error) error {
	var (
		notFound *serviceerror.NotFound
		appErr   *temporal.ApplicationError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %s", ErrOrderNotFound, orderID)
	case errors.As(err, &appErr) && appErr.Type() == saga.ErrTypeInvalidState:
		return fmt.Errorf("%w: %s", ErrInvalidState, appErr.Message())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: Temporal did not answer in time for order %s", httpx.ErrUnavailable, orderID)
	}
	return fmt.Errorf("%w: Temporal: %v", httpx.ErrUnavailable, err)
}

// ReadPolicy reads the saga policy given to new orders from the environment:
// APPROVAL_THRESHOLD_CENTS (100000), APPROVAL_TIMEOUT (24h), COMPENSATION_MAX_ATTEMPTS (10).
func ReadPolicy(r *env.Reader) saga.Policy {
	return saga.Policy{
		ApprovalThresholdCents: r.Int64("APPROVAL_THRESHOLD_CENTS", saga.DefaultApprovalThresholdCents),
		ApprovalTimeout:        saga.Duration(r.Duration("APPROVAL_TIMEOUT", saga.DefaultApprovalTimeout)),
		CompensationAttempts:   int32(r.Int("COMPENSATION_MAX_ATTEMPTS", saga.DefaultCompensationAttempts)),
		StatusMirror:           readStatusMirror(r),
	}
}

// readStatusMirror reads STATUS_MIRROR: milestones (the default) or every.
func readStatusMirror(r *env.Reader) string {
	switch v := r.String("STATUS_MIRROR", saga.MirrorMilestones); v {
	case saga.MirrorMilestones, saga.MirrorEvery:
		return v
	default:
		r.Fail(fmt.Errorf("STATUS_MIRROR=%q: want %s or %s", v, saga.MirrorMilestones, saga.MirrorEvery))
		return saga.MirrorMilestones
	}
}
