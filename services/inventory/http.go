package inventory

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

// NewHandler returns the inventory service's HTTP API over store:
//
//	GET  /products                     the catalogue with stock
//	GET  /products/{sku}               one product
//	PUT  /products/{sku}               create or restock a product
//	POST /quotes                       price items
//	POST /reservations                 reserve an order's items (fault operation "reserve")
//	GET  /reservations/{orderId}       an order's reservation
//	POST /reservations/{orderId}/release  release it (fault operation "release")
//	GET|PUT /admin/faults              fault injection settings
//	GET  /healthz                      liveness
//	GET  /readyz, GET /metrics        readiness and metrics, when opts has them (New checks the database)
func NewHandler(store *Store, inj *faults.Injector, log *slog.Logger, opts httpx.Options) http.Handler {
	h := handler{store: store}
	r := httpx.NewEngine(log, Codes, opts)
	inj.Register(r)
	up := r.Group("", inj.Reads())
	up.GET("/products", h.listProducts)
	up.GET("/products/:sku", h.getProduct)
	up.PUT("/products/:sku", h.upsertProduct)
	up.POST("/quotes", h.quote)
	up.GET("/reservations/:orderId", h.getReservation)
	r.POST("/reservations", inj.Op("reserve"), h.reserve)
	r.POST("/reservations/:orderId/release", inj.Op("release"), h.release)
	return r
}

type handler struct {
	store *Store
}

// ProductList is the body of GET /products.
type ProductList struct {
	Products []Product `json:"products"`
}

// ReserveRequest is the body of POST /reservations.
type ReserveRequest struct {
	OrderID string `json:"orderId"`
	Items   []Item `json:"items"`
}

// QuoteRequest is the body of POST /quotes.
type QuoteRequest struct {
	Items []Item `json:"items"`
}

func (h handler) listProducts(c *gin.Context) {
	ps, err := h.store.Products(c.Request.Context())
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(http.StatusOK, ProductList{Products: ps})
}

func (h handler) getProduct(c *gin.Context) {
	p, err := h.store.Product(c.Request.Context(), c.Param("sku"))
	httpx.Respond(c, http.StatusOK, p, err)
}

func (h handler) upsertProduct(c *gin.Context) {
	var req ProductUpdate
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	p, created, err := h.store.UpsertProduct(c.Request.Context(), c.Param("sku"), req)
	httpx.Respond(c, httpx.StatusFor(created), p, err)
}

func (h handler) quote(c *gin.Context) {
	var req QuoteRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	q, err := h.store.Quote(c.Request.Context(), req.Items)
	httpx.Respond(c, http.StatusOK, q, err)
}

func (h handler) reserve(c *gin.Context) {
	var req ReserveRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	res, created, err := h.store.Reserve(c.Request.Context(), req.OrderID, req.Items)
	httpx.Respond(c, httpx.StatusFor(created), res, err)
}

func (h handler) getReservation(c *gin.Context) {
	res, err := h.store.Reservation(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, res, err)
}

func (h handler) release(c *gin.Context) {
	res, err := h.store.Release(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, res, err)
}

// New builds the inventory service over db: it creates its tables (and seed data) when
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
