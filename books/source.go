package books

import (
	"context"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// Services is the Source of a running system: the public API and the services' clients.
type Services struct {
	API       *api.Client
	Inventory *inventory.Client
	Payments  *payment.Client
	Shipping  *shipping.Client
}

var _ Source = Services{}

// Order implements Source.
func (s Services) Order(ctx context.Context, orderID string) (saga.OrderState, error) {
	v, err := s.API.Order(ctx, orderID)
	return v.OrderState, err
}

// Product implements Source.
func (s Services) Product(ctx context.Context, sku string) (inventory.Product, error) {
	return s.Inventory.Product(ctx, sku)
}

// Reservation implements Source.
func (s Services) Reservation(ctx context.Context, orderID string) (inventory.Reservation, error) {
	return s.Inventory.Reservation(ctx, orderID)
}

// Customer implements Source.
func (s Services) Customer(ctx context.Context, customerID string) (payment.Customer, error) {
	return s.Payments.Customer(ctx, customerID)
}

// Payment implements Source.
func (s Services) Payment(ctx context.Context, orderID string) (payment.Payment, error) {
	return s.Payments.Payment(ctx, orderID)
}

// Shipment implements Source.
func (s Services) Shipment(ctx context.Context, orderID string) (shipping.Shipment, error) {
	return s.Shipping.Shipment(ctx, orderID)
}

// Redemption implements Source.
func (s Services) Redemption(ctx context.Context, orderID string) (payment.Redemption, error) {
	return s.Payments.Redemption(ctx, orderID)
}

// Coupons implements Source.
func (s Services) Coupons(ctx context.Context, customerID string) ([]payment.Coupon, error) {
	return s.Payments.Coupons(ctx, customerID)
}
