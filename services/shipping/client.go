package shipping

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
)

// Client calls the shipping service over HTTP. Its errors wrap this package's sentinel
// errors, validate.ErrInvalid, or httpx.ErrUnavailable when the outcome is unknown.
type Client struct {
	c *httpx.Client
}

// NewClient returns a client for the service at baseURL; a nil hc uses a default client.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{c: httpx.NewClient(baseURL, hc, Codes)}
}

// Schedule schedules an order's shipment; see Store.Schedule for its errors.
func (c *Client) Schedule(ctx context.Context, req ScheduleRequest) (Shipment, error) {
	var sh Shipment
	err := c.c.Do(ctx, http.MethodPost, "/shipments", req, &sh)
	return sh, err
}

// Cancel cancels an order's shipment, or voids it when there is none.
func (c *Client) Cancel(ctx context.Context, orderID string) (Shipment, error) {
	var sh Shipment
	err := c.c.Do(ctx, http.MethodPost, "/shipments/"+url.PathEscape(orderID)+"/cancel", nil, &sh)
	return sh, err
}

// Shipment returns an order's shipment, or ErrNotFound.
func (c *Client) Shipment(ctx context.Context, orderID string) (Shipment, error) {
	var sh Shipment
	err := c.c.Do(ctx, http.MethodGet, "/shipments/"+url.PathEscape(orderID), nil, &sh)
	return sh, err
}

// Healthy returns nil when the service is up.
func (c *Client) Healthy(ctx context.Context) error { return c.c.Healthy(ctx) }

// Faults returns a client for the service's fault injection settings.
func (c *Client) Faults() *faults.Client { return faults.NewClient(c.c) }
