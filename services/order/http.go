package order

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
)

// NewHandler returns the order service's HTTP API over store:
//
//	POST /orders                        create an order (fault operation "create"): 201, or 200 on replay
//	GET  /orders?customerId=&status=&limit=&cursor=  a page of orders, newest first
//	GET  /orders/{orderId}              one order
//	POST /orders/{orderId}/confirm      complete it, keeping the saga's final view when the body (ConfirmRequest) has one (fault operation "confirm")
//	POST /orders/{orderId}/cancel       cancel or reject it, body CancelRequest (fault operation "cancel")
//	PUT  /orders/{orderId}/status       mirror an intermediate status, body StatusUpdate
//	GET|PUT /admin/faults               fault injection settings
//	GET  /healthz                       liveness
//	GET  /readyz, GET /metrics        readiness and metrics, when opts has them (New checks the database)
//
// Reads and the status update fail only when the whole service is down.
func NewHandler(store *Store, inj *faults.Injector, log *slog.Logger, opts httpx.Options) http.Handler {
	h := handler{store: store}
	r := httpx.NewEngine(log, Codes, opts)
	inj.Register(r)
	up := r.Group("", inj.Reads())
	up.GET("/orders", h.list)
	up.GET("/orders/:orderId", h.get)
	up.PUT("/orders/:orderId/status", h.setStatus)
	r.POST("/orders", inj.Op("create"), h.create)
	r.POST("/orders/:orderId/confirm", inj.Op("confirm"), h.confirm)
	r.POST("/orders/:orderId/cancel", inj.Op("cancel"), h.cancel)
	return r
}

type handler struct {
	store *Store
}

func (h handler) create(c *gin.Context) {
	var req CreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	o, created, err := h.store.Create(c.Request.Context(), req)
	httpx.Respond(c, httpx.StatusFor(created), o, err)
}

func (h handler) get(c *gin.Context) {
	o, err := h.store.Get(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, o, err)
}

func (h handler) list(c *gin.Context) {
	q, err := bindListQuery(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	page, err := h.store.List(c.Request.Context(), q)
	httpx.Respond(c, http.StatusOK, page, err)
}

func (h handler) confirm(c *gin.Context) {
	var req ConfirmRequest
	if err := httpx.BindOptionalJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	o, err := h.store.Confirm(c.Request.Context(), c.Param("orderId"), req)
	httpx.Respond(c, http.StatusOK, o, err)
}

func (h handler) cancel(c *gin.Context) {
	var req CancelRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	o, err := h.store.Cancel(c.Request.Context(), c.Param("orderId"), req)
	httpx.Respond(c, http.StatusOK, o, err)
}

func (h handler) setStatus(c *gin.Context) {
	var req StatusUpdate
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	o, err := h.store.SetStatus(c.Request.Context(), c.Param("orderId"), req)
	httpx.Respond(c, http.StatusOK, o, err)
}

// bindListQuery reads a ListQuery from the query string; the store validates it.
func bindListQuery(c *gin.Context) (ListQuery, error) {
	limit, err := ParseLimit(c.Query("limit"))
	return ListQuery{
		CustomerID: c.Query("customerId"),
		Status:     Status(c.Query("status")),
		Limit:      limit,
		Cursor:     c.Query("cursor"),
	}, err
}

// New builds the order service over db: it creates its tables (and seed data) when
// missing and returns its HTTP handler.
func New(ctx context.Context, db *gorm.DB, inj *faults.Injector, log *slog.Logger, opts httpx.Options) (http.Handler, error) {
	store, err := NewStore(ctx, db)
	if err != nil {
		return nil, err
	}
	if opts.Ready == nil {
		opts.Ready = database.Ping(db)
	}
	return NewHandler(store, inj, log, opts), nil
}
