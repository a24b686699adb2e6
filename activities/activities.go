// Package activities holds the order saga's activities: one method per forward step and per
// compensation, on a struct of injected service clients, registered with the worker as one
// struct.
//
// Each activity makes one idempotent call keyed by the order ID, so Temporal may run it any
// number of times. classify (errors.go) is the one place that turns a service's answer into
// what the workflow sees: a non-retryable ApplicationError with a stable business type when
// the service definitely refused the step, or a retryable one when the outcome is unknown.
package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/money"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// OrderService is what the activities need of the order service.
type OrderService interface {
	Create(ctx context.Context, req order.CreateRequest) (order.Order, error)
	Confirm(ctx context.Context, orderID string) (order.Order, error)
	Cancel(ctx context.Context, orderID string, req order.CancelRequest) (order.Order, error)
	SetStatus(ctx context.Context, orderID string, u order.StatusUpdate) (order.Order, error)
}

// InventoryService is what the activities need of the inventory service.
type InventoryService interface {
	Reserve(ctx context.Context, orderID string, items []inventory.Item) (inventory.Reservation, error)
	Release(ctx context.Context, orderID string) (inventory.Reservation, error)
}

// PaymentService is what the activities need of the payment service.
type PaymentService interface {
	Charge(ctx context.Context, req payment.ChargeRequest) (payment.Payment, error)
	Refund(ctx context.Context, orderID string) (payment.Payment, error)
}

// ShippingService is what the activities need of the shipping service.
type ShippingService interface {
	Schedule(ctx context.Context, req shipping.ScheduleRequest) (shipping.Shipment, error)
	Cancel(ctx context.Context, orderID string) (shipping.Shipment, error)
}

// The service clients satisfy the interfaces.
var (
	_ OrderService     = (*order.Client)(nil)
	_ InventoryService = (*inventory.Client)(nil)
	_ PaymentService   = (*payment.Client)(nil)
	_ ShippingService  = (*shipping.Client)(nil)
)

// Activities are the saga's steps and compensations. Register a *Activities with the worker.
type Activities struct {
	Orders    OrderService
	Inventory InventoryService
	Payments  PaymentService
	Shipping  ShippingService
}

// Order is what the saga's steps need to know about an order.
type Order struct {
	OrderID         string  `json:"orderId"`
	CustomerID      string  `json:"customerId"`
	Items           []Item  `json:"items"`
	TotalCents      int64   `json:"totalCents"`
	Currency        string  `json:"currency"`
	PaymentMethod   string  `json:"paymentMethod"`
	ShippingAddress Address `json:"shippingAddress"`
}

// Item is an order line, priced when the order was placed.
type Item struct {
	SKU            string `json:"sku"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unitPriceCents"`
}

// Address is where an order ships.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Result is what a step or a compensation reports to the workflow.
type Result struct {
	// Attempt is the attempt that succeeded (1 for the first).
	Attempt int32 `json:"attempt"`
	// Detail says what the service did, for people: "charged $30.00", "tracking 1Z...".
	Detail string `json:"detail"`
}

// CancelOrderInput is the input of CancelOrder.
type CancelOrderInput struct {
	OrderID string `json:"orderId"`
	// Status is "CANCELLED" (by the customer or an operator) or "REJECTED" (a step failed).
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	FailedStep string `json:"failedStep,omitempty"`
	ErrorType  string `json:"errorType,omitempty"`
}

// StatusInput is the input of SyncOrderStatus: a status of the saga and its view of the
// order. Reason, FailedStep and ErrorType describe a final CANCELLED or REJECTED.
type StatusInput struct {
	OrderID    string          `json:"orderId"`
	Status     string          `json:"status"`
	Version    int64           `json:"version"`
	Reason     string          `json:"reason,omitempty"`
	FailedStep string          `json:"failedStep,omitempty"`
	ErrorType  string          `json:"errorType,omitempty"`
	State      json.RawMessage `json:"state,omitempty"`
}

// done reports a success, or classifies a failure, with the current attempt number.
func done(ctx context.Context, detail string, err error) (Result, error) {
	attempt := activity.GetInfo(ctx).Attempt
	if err != nil {
		return Result{}, classify(err, attempt)
	}
	activity.GetLogger(ctx).Info(detail, "attempt", attempt)
	return Result{Attempt: attempt, Detail: detail}, nil
}

// CreateOrder records the order as PENDING (step 1).
func (a *Activities) CreateOrder(ctx context.Context, o Order) (Result, error) {
	items := make([]order.Item, len(o.Items))
	for i, it := range o.Items {
		items[i] = order.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents}
	}
	_, err := a.Orders.Create(ctx, order.CreateRequest{
		OrderID: o.OrderID, CustomerID: o.CustomerID, Items: items, TotalCents: o.TotalCents,
		Currency: o.Currency, PaymentMethod: o.PaymentMethod,
		ShippingAddress: order.Address(o.ShippingAddress),
	})
	return done(ctx, "order recorded as PENDING", err)
}

// CancelOrder marks the order CANCELLED or REJECTED with its reason (compensates step 1).
// The reason is made to fit the order service's limits first: it is built from notes and
// error messages, which the service must never refuse.
func (a *Activities) CancelOrder(ctx context.Context, in CancelOrderInput) (Result, error) {
	_, err := a.Orders.Cancel(ctx, in.OrderID, order.CancelRequest{
		Status:     order.Status(in.Status),
		Reason:     httpx.CleanText(in.Reason, order.MaxReasonLen),
		FailedStep: httpx.CleanText(in.FailedStep, order.MaxTextLen),
		ErrorType:  httpx.CleanText(in.ErrorType, order.MaxTextLen),
	})
	return done(ctx, "order marked "+in.Status, err)
}

// ReserveInventory reserves all of the order's items, or none (step 2).
func (a *Activities) ReserveInventory(ctx context.Context, o Order) (Result, error) {
	items := make([]inventory.Item, len(o.Items))
	for i, it := range o.Items {
		items[i] = inventory.Item{SKU: it.SKU, Quantity: it.Quantity}
	}
	_, err := a.Inventory.Reserve(ctx, o.OrderID, items)
	return done(ctx, fmt.Sprintf("reserved %d item(s)", len(items)), err)
}

// ReleaseInventory returns the order's reserved stock (compensates step 2).
func (a *Activities) ReleaseInventory(ctx context.Context, orderID string) (Result, error) {
	r, err := a.Inventory.Release(ctx, orderID)
	return done(ctx, "reservation "+string(r.Status), err)
}

// ChargePayment charges the order's total to the customer (step 4).
func (a *Activities) ChargePayment(ctx context.Context, o Order) (Result, error) {
	_, err := a.Payments.Charge(ctx, payment.ChargeRequest{
		OrderID: o.OrderID, CustomerID: o.CustomerID, AmountCents: o.TotalCents,
		Currency: o.Currency, PaymentMethod: o.PaymentMethod,
	})
	return done(ctx, "charged "+money.Format(o.TotalCents, o.Currency), err)
}

// RefundPayment refunds the order's charge, once (compensates step 4).
func (a *Activities) RefundPayment(ctx context.Context, orderID string) (Result, error) {
	p, err := a.Payments.Refund(ctx, orderID)
	return done(ctx, "payment "+string(p.Status), err)
}

// ScheduleShipping schedules the order's shipment (step 5).
func (a *Activities) ScheduleShipping(ctx context.Context, o Order) (Result, error) {
	items := make([]shipping.Item, len(o.Items))
	for i, it := range o.Items {
		items[i] = shipping.Item{SKU: it.SKU, Quantity: it.Quantity}
	}
	s, err := a.Shipping.Schedule(ctx, shipping.ScheduleRequest{
		OrderID: o.OrderID, Address: shipping.Address(o.ShippingAddress), Items: items,
	})
	return done(ctx, "shipment scheduled with "+s.Carrier+", tracking "+s.TrackingNumber, err)
}

// CancelShipment cancels the order's shipment (compensates step 5).
func (a *Activities) CancelShipment(ctx context.Context, orderID string) (Result, error) {
	s, err := a.Shipping.Cancel(ctx, orderID)
	return done(ctx, "shipment "+string(s.Status), err)
}

// ConfirmOrder marks the order COMPLETED: the point of no return (step 6).
func (a *Activities) ConfirmOrder(ctx context.Context, orderID string) (Result, error) {
	_, err := a.Orders.Confirm(ctx, orderID)
	return done(ctx, "order COMPLETED", err)
}

// SyncOrderStatus mirrors a status of the saga, and its view of the order, into the order
// service: the read model that GET /v1/orders reads, kept current at every status
// change. Stale versions are ignored by the service. The workflow runs it as a local
// activity.
func (a *Activities) SyncOrderStatus(ctx context.Context, in StatusInput) error {
	_, err := a.Orders.SetStatus(ctx, in.OrderID, order.StatusUpdate{
		Status:     order.Status(in.Status),
		Version:    in.Version,
		Reason:     httpx.CleanText(in.Reason, order.MaxReasonLen),
		FailedStep: httpx.CleanText(in.FailedStep, order.MaxTextLen),
		ErrorType:  httpx.CleanText(in.ErrorType, order.MaxTextLen),
		State:      in.State,
	})
	if err != nil {
		return classify(err, activity.GetInfo(ctx).Attempt)
	}
	return nil
}
