package order

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
)

// Client calls the order service over HTTP. Its errors wrap this package's sentinel
// errors, validate.ErrInvalid, or httpx.ErrUnavailable when the outcome is unknown.
type Client struct {
	c *httpx.Client
}

// NewClient returns a client for the service at baseURL; a nil hc uses a default client.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{c: httpx.NewClient(baseURL, hc, Codes)}
}

// Create creates an order, or returns the existing one for a replay with the same body;
// see Store.Create for its errors.
func (c *Client) Create(ctx context.Context, req CreateRequest) (Order, error) {
	var o Order
	err := c.c.Do(ctx, http.MethodPost, "/orders", req, &o)
	return o, err
}

// Get returns an order, or ErrNotFound.
func (c *Client) Get(ctx context.Context, orderID string) (Order, error) {
	if orderID == "" { // "/orders/" would redirect to the list
		return Order{}, fmt.Errorf("order with an empty ID: %w", ErrNotFound)
	}
	var o Order
	err := c.c.Do(ctx, http.MethodGet, orderPath(orderID), nil, &o)
	return o, err
}

// List returns a page of orders, newest first; see Store.List.
func (c *Client) List(ctx context.Context, q ListQuery) (Page, error) {
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
	path := "/orders"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var p Page
	err := c.c.Do(ctx, http.MethodGet, path, nil, &p)
	return p, err
}

// Confirm marks an order COMPLETED; it returns ErrNotFound or ErrCompensated.
func (c *Client) Confirm(ctx context.Context, orderID string) (Order, error) {
	var o Order
	err := c.c.Do(ctx, http.MethodPost, orderPath(orderID)+"/confirm", nil, &o)
	return o, err
}

// ConfirmWithView completes an order as Confirm does and keeps req's view of it (the
// saga's final state) in the same call.
func (c *Client) ConfirmWithView(ctx context.Context, orderID string, req ConfirmRequest) (Order, error) {
	var o Order
	err := c.c.Do(ctx, http.MethodPost, orderPath(orderID)+"/confirm", req, &o)
	return o, err
}

// Cancel marks an order CANCELLED or REJECTED, or leaves a tombstone when it does not
// exist; it returns ErrCompleted for a COMPLETED order.
func (c *Client) Cancel(ctx context.Context, orderID string, req CancelRequest) (Order, error) {
	var o Order
	err := c.c.Do(ctx, http.MethodPost, orderPath(orderID)+"/cancel", req, &o)
	return o, err
}

// SetStatus mirrors an intermediate status; a stale version is ignored. It returns
// ErrNotFound.
func (c *Client) SetStatus(ctx context.Context, orderID string, u StatusUpdate) (Order, error) {
	var o Order
	err := c.c.Do(ctx, http.MethodPut, orderPath(orderID)+"/status", u, &o)
	return o, err
}

// Healthy returns nil when the service is up.
func (c *Client) Healthy(ctx context.Context) error { return c.c.Healthy(ctx) }

// Faults returns a client for the service's fault injection settings.
func (c *Client) Faults() *faults.Client { return faults.NewClient(c.c) }

func orderPath(orderID string) string { return "/orders/" + url.PathEscape(orderID) }
