package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/httpx"
)

// Client reads orders through the public API, as a customer's program would. Its errors
// wrap app.ErrOrderNotFound, httpx's common errors, or httpx.ErrUnavailable when the API
// could not answer.
type Client struct {
	c *httpx.Client
}

// NewClient returns a client for the API at baseURL; a nil hc uses a default client.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{c: httpx.NewClient(baseURL, hc, codes)}
}

// Order returns an order's view (GET /v1/orders/{orderId}).
func (c *Client) Order(ctx context.Context, orderID string) (app.OrderView, error) {
	var v app.OrderView
	err := c.c.Do(ctx, http.MethodGet, "/v1/orders/"+url.PathEscape(orderID), nil, &v)
	return v, err
}
