package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/services/order"
)

// Client reads and steers orders through the public API, as a customer's or an operator's
// program would. Its errors wrap app.ErrOrderNotFound, app.ErrInvalidState, httpx's
// common errors, or httpx.ErrUnavailable when the API could not answer.
type Client struct {
	c *httpx.Client
}

// NewClient returns a client for the API at baseURL; a nil hc uses a default client.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{c: httpx.NewClient(baseURL, hc, codes)}
}

// WithToken returns a copy of c that sends an operator's bearer token.
func (c *Client) WithToken(token string) *Client {
	return &Client{c: c.c.WithHeader("Authorization", "Bearer "+token)}
}

// Order returns an order's view (GET /v1/orders/{orderId}).
func (c *Client) Order(ctx context.Context, orderID string) (app.OrderView, error) {
	var v app.OrderView
	err := c.c.Do(ctx, http.MethodGet, "/v1/orders/"+url.PathEscape(orderID), nil, &v)
	return v, err
}

// List returns a page of orders (GET /v1/orders).
func (c *Client) List(ctx context.Context, q order.ListQuery) (app.OrderList, error) {
	v := url.Values{}
	if q.CustomerID != "" {
		v.Set("customerId", q.CustomerID)
	}
	if q.Status != "" {
		v.Set("status", string(q.Status))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var l app.OrderList
	err := c.c.Do(ctx, http.MethodGet, "/v1/orders?"+v.Encode(), nil, &l)
	return l, err
}

// Decide sends an operator's action on an order (POST /v1/orders/{orderId}/{action});
// the client needs an operator's token (WithToken).
func (c *Client) Decide(ctx context.Context, orderID string, a app.Action, d app.Decision) (app.OrderView, error) {
	var v app.OrderView
	err := c.c.Do(ctx, http.MethodPost, "/v1/orders/"+url.PathEscape(orderID)+"/"+string(a), d, &v)
	return v, err
}
