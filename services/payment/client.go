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

// RedeemCoupon redeems a customer's coupon for an order and returns the redemption with
// its discount; see Store.RedeemCoupon for its errors.
func (c *Client) RedeemCoupon(ctx context.Context, req RedeemRequest) (Redemption, error) {
	var r Redemption
	err := c.c.Do(ctx, http.MethodPost, "/coupons/redemptions", req, &r)
	return r, err
}

// RestoreCoupon gives back the coupon an order redeemed, or voids the order's redemption
// when nothing was redeemed; see Store.RestoreCoupon.
func (c *Client) RestoreCoupon(ctx context.Context, orderID string) (Redemption, error) {
	var r Redemption
	err := c.c.Do(ctx, http.MethodPost, "/coupons/redemptions/"+url.PathEscape(orderID)+"/restore", nil, &r)
	return r, err
}

// Redemption returns an order's coupon redemption, or ErrNotFound.
func (c *Client) Redemption(ctx context.Context, orderID string) (Redemption, error) {
	var r Redemption
	err := c.c.Do(ctx, http.MethodGet, "/coupons/redemptions/"+url.PathEscape(orderID), nil, &r)
	return r, err
}

// Coupons returns a customer's coupons, sorted by code; none for an unknown customer.
func (c *Client) Coupons(ctx context.Context, customerID string) ([]Coupon, error) {
	var list CouponList
	err := c.c.Do(ctx, http.MethodGet, "/customers/"+url.PathEscape(customerID)+"/coupons", nil, &list)
	return list.Coupons, err
}

// UpsertCoupon gives a customer a coupon, or replaces the terms of the customer's coupon
// with that code (keeping its status); it returns ErrUnknownCustomer, or
// validate.ErrInvalid for invalid terms.
func (c *Client) UpsertCoupon(ctx context.Context, customerID, code string, u CouponUpdate) (Coupon, error) {
	var coupon Coupon
	err := c.c.Do(ctx, http.MethodPut, "/customers/"+url.PathEscape(customerID)+"/coupons/"+url.PathEscape(code), u, &coupon)
	return coupon, err
}

// Healthy returns nil when the service is up.
func (c *Client) Healthy(ctx context.Context) error { return c.c.Healthy(ctx) }

// Faults returns a client for the service's fault injection settings.
func (c *Client) Faults() *faults.Client { return faults.NewClient(c.c) }
