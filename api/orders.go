package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
)

// placeOrder answers POST /v1/orders[?wait=10s]: 202 for a new order, 200 for a replay,
// both with a Location.
func (s *server) placeOrder(c *gin.Context) {
	var req app.PlaceRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	wait, err := parseWait(c.Query("wait"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	placed, err := s.deps.Orders.Place(c.Request.Context(), req, c.GetHeader("Idempotency-Key"), wait)
	if err != nil {
		_ = c.Error(err)
		return
	}
	s.metrics().placed(placed.Created)
	c.Header("Location", placed.Order.Links.Self)
	c.JSON(map[bool]int{true: http.StatusAccepted, false: http.StatusOK}[placed.Created], placed.Order)
}

// parseWait reads ?wait=: a duration ("10s") or a number of seconds. The use cases bound it.
func parseWait(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.ParseFloat(s, 64)
		if nerr != nil {
			return 0, validate.Invalid("wait", "must be a duration such as 10s")
		}
		d = time.Duration(n * float64(time.Second))
	}
	return d, nil
}

// getOrder answers GET /v1/orders/{orderId}[?wait=10s][?live=true].
func (s *server) getOrder(c *gin.Context) {
	ctx, orderID := c.Request.Context(), c.Param("orderId")
	wait, err := parseWait(c.Query("wait"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	live := false
	if v := c.Query("live"); v != "" {
		if live, err = strconv.ParseBool(v); err != nil {
			_ = c.Error(validate.Invalid("live", "must be true or false"))
			return
		}
	}
	var view app.OrderView
	switch {
	case wait > 0:
		view, err = s.deps.Orders.Await(ctx, orderID, wait)
	case live:
		view, err = s.deps.Orders.GetLive(ctx, orderID)
	default:
		view, err = s.deps.Orders.Get(ctx, orderID)
	}
	httpx.Respond(c, http.StatusOK, view, err)
}

// listOrders answers GET /v1/orders?customerId=&status=&limit=&cursor=, newest first.
func (s *server) listOrders(c *gin.Context) {
	limit, err := order.ParseLimit(c.Query("limit"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	list, err := s.deps.Orders.List(c.Request.Context(), order.ListQuery{
		CustomerID: c.Query("customerId"), Status: order.Status(strings.ToUpper(c.Query("status"))),
		Limit: limit, Cursor: c.Query("cursor"),
	})
	httpx.Respond(c, http.StatusOK, list, err)
}

// cancelOrder answers POST /v1/orders/{orderId}/cancel: 202 while the saga unwinds, 409
// past the point of no return.
func (s *server) cancelOrder(c *gin.Context) {
	var d app.Decision
	if err := httpx.BindOptionalJSON(c, &d); err != nil {
		_ = c.Error(err)
		return
	}
	view, err := s.deps.Orders.Cancel(c.Request.Context(), c.Param("orderId"), d)
	httpx.Respond(c, http.StatusAccepted, view, err)
}

// decide returns the handler of an operator's action.
func (s *server) decide(a app.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		var d app.Decision
		if err := httpx.BindOptionalJSON(c, &d); err != nil {
			_ = c.Error(err)
			return
		}
		view, err := s.deps.Orders.Decide(c.Request.Context(), c.Param("orderId"), a, d)
		httpx.Respond(c, http.StatusOK, view, err)
	}
}

// listProducts answers GET /v1/products.
func (s *server) listProducts(c *gin.Context) {
	ps, err := s.deps.Catalog.Products(c.Request.Context())
	httpx.Respond(c, http.StatusOK, inventory.ProductList{Products: ps}, err)
}

// upsertProduct answers PUT /v1/products/{sku} (operators): create or restock.
func (s *server) upsertProduct(c *gin.Context) {
	var req inventory.ProductUpdate
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	p, err := s.deps.Catalog.UpsertProduct(c.Request.Context(), c.Param("sku"), req)
	httpx.Respond(c, http.StatusOK, p, err)
}
