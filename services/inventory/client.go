package inventory

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
)

// Client calls the inventory service over HTTP. Its errors wrap this package's sentinel
// errors, validate.ErrInvalid, or httpx.ErrUnavailable when the outcome is unknown.
type Client struct {
	c *httpx.Client
}

// NewClient returns a client for the service at baseURL; a nil hc uses a default client.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{c: httpx.NewClient(baseURL, hc, Codes)}
}

// Products returns the catalogue.
func (c *Client) Products(ctx context.Context) ([]Product, error) {
	var out ProductList
	err := c.c.Do(ctx, http.MethodGet, "/products", nil, &out)
	return out.Products, err
}

// Product returns one product, or ErrNotFound.
func (c *Client) Product(ctx context.Context, sku string) (Product, error) {
	var p Product
	err := c.c.Do(ctx, http.MethodGet, "/products/"+url.PathEscape(sku), nil, &p)
	return p, err
}

// UpsertProduct creates or updates a product.
func (c *Client) UpsertProduct(ctx context.Context, sku string, u ProductUpdate) (Product, error) {
	var p Product
	err := c.c.Do(ctx, http.MethodPut, "/products/"+url.PathEscape(sku), u, &p)
	return p, err
}

// Quote prices items; it returns ErrUnknownProduct for a SKU not in the catalogue.
func (c *Client) Quote(ctx context.Context, items []Item) (Quote, error) {
	var q Quote
	err := c.c.Do(ctx, http.MethodPost, "/quotes", QuoteRequest{Items: items}, &q)
	return q, err
}

// Reserve reserves an order's items; see Store.Reserve for its errors.
func (c *Client) Reserve(ctx context.Context, orderID string, items []Item) (Reservation, error) {
	var r Reservation
	err := c.c.Do(ctx, http.MethodPost, "/reservations", ReserveRequest{OrderID: orderID, Items: items}, &r)
	return r, err
}

// Release releases an order's reservation, or voids it when there is none.
func (c *Client) Release(ctx context.Context, orderID string) (Reservation, error) {
	var r Reservation
	err := c.c.Do(ctx, http.MethodPost, "/reservations/"+url.PathEscape(orderID)+"/release", nil, &r)
	return r, err
}

// Reservation returns an order's reservation, or ErrNotFound.
func (c *Client) Reservation(ctx context.Context, orderID string) (Reservation, error) {
	var r Reservation
	err := c.c.Do(ctx, http.MethodGet, "/reservations/"+url.PathEscape(orderID), nil, &r)
	return r, err
}

// Healthy returns nil when the service is up.
func (c *Client) Healthy(ctx context.Context) error { return c.c.Healthy(ctx) }

// Faults returns a client for the service's fault injection settings.
func (c *Client) Faults() *faults.Client { return faults.NewClient(c.c) }
