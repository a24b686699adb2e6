package payment

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
)

// Client calls the payment service over HTTP. Its errors wrap this package's sentinel
// errors, validate.ErrInvalid, or httpx.ErrUnavailable when the outcome is unknown.
type Client struct {
	c *httpx.Client
}

// NewClient returns a client for the service at baseURL; a nil hc uses a default client.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{c: httpx.NewClient(baseURL, hc, Codes)}
}

// Charge charges an order; see Store.Charge for its errors. The flaky test card's failed
// attempts come back as httpx.ErrUnavailable, like any 503.
func (c *Client) Charge(ctx context.Context, req ChargeRequest) (Payment, error) {
	var p Payment
	err := c.c.Do(ctx, http.MethodPost, "/payments", req, &p)
	return p, err
}

// Refund refunds an order's payment, or voids it when nothing was charged; see
// Store.Refund.
func (c *Client) Refund(ctx context.Context, orderID string) (Payment, error) {
	var p Payment
	err := c.c.Do(ctx, http.MethodPost, "/payments/"+url.PathEscape(orderID)+"/refund", nil, &p)
	return p, err
}

// Payment returns an order's payment, or ErrNotFound.
func (c *Client) Payment(ctx context.Context, orderID string) (Payment, error) {
	var p Payment
	err := c.c.Do(ctx, http.MethodGet, "/payments/"+url.PathEscape(orderID), nil, &p)
	return p, err
}

// Customer returns a customer and its balance, or ErrNotFound.
func (c *Client) Customer(ctx context.Context, customerID string) (Customer, error) {
	var cust Customer
	err := c.c.Do(ctx, http.MethodGet, "/customers/"+url.PathEscape(customerID), nil, &cust)
	return cust, err
}

// UpsertCustomer creates a customer or sets its balance; it returns validate.ErrInvalid
// for an invalid ID or a negative balance.
func (c *Client) UpsertCustomer(ctx context.Context, customerID string, u CustomerUpdate) (Customer, error) {
	var cust Customer
	err := c.c.Do(ctx, http.MethodPut, "/customers/"+url.PathEscape(customerID), u, &cust)
	return cust, err
}

// Healthy returns nil when the service is up.
func (c *Client) Healthy(ctx context.Context) error { return c.c.Healthy(ctx) }

// Faults returns a client for the service's fault injection settings.
func (c *Client) Faults() *faults.Client { return faults.NewClient(c.c) }
