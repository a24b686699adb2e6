package payment

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// NewHandler returns the payment service's HTTP API over store:
//
//	POST /payments                    charge an order (fault operation "charge"):
//	                                  201 charged, 200 replay of an earlier charge
//	GET  /payments/{orderId}          an order's payment
//	POST /payments/{orderId}/refund   refund it, or void it (fault operation "refund")
//	GET  /customers/{customerId}      a customer and its balance
//	PUT  /customers/{customerId}      create a customer or set its balance
//	GET  /customers/{customerId}/coupons         a customer's coupons, {"coupons": [...]}
//	PUT  /customers/{customerId}/coupons/{code}  give a customer a coupon, or replace its terms:
//	                                  201 created, 200 replaced
//	POST /coupons/redemptions         redeem a coupon for an order (fault operation "redeem"):
//	                                  201 redeemed, 200 replay of an earlier redeem
//	GET  /coupons/redemptions/{orderId}          an order's coupon redemption
//	POST /coupons/redemptions/{orderId}/restore  give the coupon back, or void the redemption
//	                                  (fault operation "restore")
//	GET|PUT /admin/faults             fault injection settings
//	GET  /healthz                     liveness
//	GET  /readyz, GET /metrics        readiness and metrics, when opts has them (New checks the database)
//
// Every POST and PUT needs a service token when opts.WriteTokens has any (the engine
// checks it before any route).
func NewHandler(store *Store, inj *faults.Injector, log *slog.Logger, opts httpx.Options) http.Handler {
	h := handler{store: store}
	r := httpx.NewEngine(log, Codes, opts)
	inj.Register(r)
	up := r.Group("", inj.Reads())
	up.GET("/payments/:orderId", h.getPayment)
	up.GET("/customers/:customerId", h.getCustomer)
	up.PUT("/customers/:customerId", h.upsertCustomer)
	up.GET("/customers/:customerId/coupons", h.getCoupons)
	up.PUT("/customers/:customerId/coupons/:code", h.upsertCoupon)
	up.GET("/coupons/redemptions/:orderId", h.getRedemption)
	r.POST("/payments", inj.Op("charge"), h.charge)
	r.POST("/payments/:orderId/refund", inj.Op("refund"), h.refund)
	r.POST("/coupons/redemptions", inj.Op("redeem"), h.redeem)
	r.POST("/coupons/redemptions/:orderId/restore", inj.Op("restore"), h.restore)
	return r
}

type handler struct {
	store *Store
}

// customerBody is the body of PUT /customers/{customerId}: a CustomerUpdate whose balance
// must be present, so that an empty body never zeroes a balance.
type customerBody struct {
	BalanceCents *int64 `json:"balanceCents"`
}

func (h handler) charge(c *gin.Context) {
	var req ChargeRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	p, created, err := h.store.Charge(c.Request.Context(), req)
	httpx.Respond(c, httpx.StatusFor(created), p, err)
}

func (h handler) getPayment(c *gin.Context) {
	p, err := h.store.Payment(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, p, err)
}

func (h handler) refund(c *gin.Context) {
	p, err := h.store.Refund(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, p, err)
}

func (h handler) getCustomer(c *gin.Context) {
	cust, err := h.store.Customer(c.Request.Context(), c.Param("customerId"))
	httpx.Respond(c, http.StatusOK, cust, err)
}

func (h handler) upsertCustomer(c *gin.Context) {
	var body customerBody
	if err := httpx.BindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	if body.BalanceCents == nil {
		var v validate.Validator
		v.Check(false, "balanceCents", "is required")
		_ = c.Error(v.Err())
		return
	}
	cust, created, err := h.store.UpsertCustomer(c.Request.Context(), c.Param("customerId"),
		CustomerUpdate{BalanceCents: *body.BalanceCents})
	httpx.Respond(c, httpx.StatusFor(created), cust, err)
}

func (h handler) getCoupons(c *gin.Context) {
	coupons, err := h.store.Coupons(c.Request.Context(), c.Param("customerId"))
	httpx.Respond(c, http.StatusOK, CouponList{Coupons: coupons}, err)
}

func (h handler) upsertCoupon(c *gin.Context) {
	var u CouponUpdate
	if err := httpx.BindJSON(c, &u); err != nil {
		_ = c.Error(err)
		return
	}
	coupon, created, err := h.store.UpsertCoupon(c.Request.Context(), c.Param("customerId"), c.Param("code"), u)
	httpx.Respond(c, httpx.StatusFor(created), coupon, err)
}

func (h handler) redeem(c *gin.Context) {
	var req RedeemRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	r, created, err := h.store.RedeemCoupon(c.Request.Context(), req)
	httpx.Respond(c, httpx.StatusFor(created), r, err)
}

func (h handler) getRedemption(c *gin.Context) {
	r, err := h.store.Redemption(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, r, err)
}

func (h handler) restore(c *gin.Context) {
	r, err := h.store.RestoreCoupon(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, r, err)
}

// New builds the payment service over db: it creates its tables (and seed data) when
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
