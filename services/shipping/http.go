package shipping

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

// NewHandler returns the shipping service's HTTP API over store:
//
//	POST /shipments                    schedule an order's shipment (fault operation "schedule");
//	                                   201 when scheduled, 200 for a replay
//	GET  /shipments/{orderId}          an order's shipment
//	POST /shipments/{orderId}/cancel   cancel it, or void it when there is none (fault operation "cancel")
//	GET|PUT /admin/faults              fault injection settings
//	GET  /healthz                      process up
//	GET  /readyz, GET /metrics        readiness and metrics, when opts has them (New checks the database)
//	GET  /readyz                       its database answers (New); GET /metrics with opts.Metrics
func NewHandler(store *Store, inj *faults.Injector, log *slog.Logger, opts httpx.Options) http.Handler {
	h := handler{store: store}
	r := httpx.NewEngine(log, Codes, opts)
	inj.Register(r)
	up := r.Group("", inj.Reads())
	up.GET("/shipments/:orderId", h.getShipment)
	r.POST("/shipments", inj.Op("schedule"), h.schedule)
	r.POST("/shipments/:orderId/cancel", inj.Op("cancel"), h.cancel)
	return r
}

type handler struct {
	store *Store
}

func (h handler) schedule(c *gin.Context) {
	var req ScheduleRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	sh, created, err := h.store.Schedule(c.Request.Context(), req)
	httpx.Respond(c, httpx.StatusFor(created), sh, err)
}

func (h handler) getShipment(c *gin.Context) {
	sh, err := h.store.Shipment(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, sh, err)
}

func (h handler) cancel(c *gin.Context) {
	sh, err := h.store.Cancel(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, sh, err)
}

// New builds the shipping service over db: it creates its tables (and seed data) when
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
