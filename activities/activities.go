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
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/money"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// OrderService is what the activities need of the order service.
type OrderService interface {
	Create(ctx context.Context, req order.CreateRequest) (order.Order, error)
	Confirm(ctx context.Context, orderID string) (order.Order, error)
	ConfirmWithView(ctx context.Context, orderID string, req order.ConfirmRequest) (order.Order, error)
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
	RedeemCoupon(ctx context.Context, req payment.RedeemRequest) (payment.Redemption, error)
	RestoreCoupon(ctx context.Context, orderID string) (payment.Redemption, error)
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

// call is one activity's call of a service, timed from begin to done.
type call struct {
	service string
	start   time.Time
}

func begin(service string) call { return call{service: service, start: time.Now()} }

// Outcomes of a service call, as ordersaga_service_call_duration labels them.
const (
	outcomeOK      = "ok"      // the service did it
	outcomeRefused = "refused" // the service definitely refused (a business error): not retried
	outcomeError   = "error"   // unknown or failed (unreachable, 5xx, timeout): retried
)

// done reports a success, or classifies a failure, with the current attempt number, and
// records the call's latency and outcome (ordersaga_service_call_duration, labelled with
// the activity type by the SDK). Detail is logged on success when not empty.
func (c call) done(ctx context.Context, detail string, err error) (saga.Result, error) {
	elapsed := time.Since(c.start)
	attempt := activity.GetInfo(ctx).Attempt
	outcome := outcomeOK
	if err != nil {
		err = classify(err, attempt)
		outcome = outcomeError
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			outcome = outcomeRefused
		}
	}
	activity.GetMetricsHandler(ctx).
		WithTags(map[string]string{"service": c.service, "outcome": outcome}).
		Timer(MetricServiceCallDuration).Record(elapsed)
	if err != nil {
		return saga.Result{}, err
	}
	if detail != "" {
		activity.GetLogger(ctx).Info(detail, "attempt", attempt)
	}
	return saga.Result{Attempt: attempt, Detail: detail}, nil
}

// MetricServiceCallDuration is the latency of each service call as the activities see it,
// by service, activity type and outcome (ok, refused, error).
const MetricServiceCallDuration = "ordersaga_service_call_duration"

// CreateOrder records the order as PENDING (step 1).
func (a *Activities) CreateOrder(ctx context.Context, o saga.Order) (saga.Result, error) {
	items := make([]order.Item, len(o.Items))
	for i, it := range o.Items {
		items[i] = order.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents}
	}
	c := begin(config.Order)
	_, err := a.Orders.Create(ctx, order.CreateRequest{
		OrderID: o.OrderID, CustomerID: o.CustomerID, Items: items, TotalCents: o.TotalCents,
		Currency: o.Currency, PaymentMethod: o.PaymentMethod,
		ShippingAddress: order.Address(o.ShippingAddress),
	})
	return c.done(ctx, "order recorded as PENDING", err)
}

// CancelOrder marks the order CANCELLED or REJECTED with its reason (compensates step 1).
// The reason is made to fit the order service's limits first: it is built from notes and
// error messages, which the service must never refuse.
func (a *Activities) CancelOrder(ctx context.Context, in saga.CancelOrderInput) (saga.Result, error) {
	c := begin(config.Order)
	_, err := a.Orders.Cancel(ctx, in.OrderID, order.CancelRequest{
		Status:     order.Status(in.Status),
		Reason:     domain.Reason.Clean(in.Reason),
		FailedStep: domain.Label.Clean(in.FailedStep),
		ErrorType:  domain.Label.Clean(in.ErrorType),
	})
	return c.done(ctx, "order marked "+in.Status, err)
}

// ReserveInventory reserves all of the order's items, or none (step 2).
func (a *Activities) ReserveInventory(ctx context.Context, in saga.ReserveInput) (saga.Result, error) {
	items := make([]inventory.Item, len(in.Items))
	for i, it := range in.Items {
		items[i] = inventory.Item{SKU: it.SKU, Quantity: it.Quantity}
	}
	c := begin(config.Inventory)
	_, err := a.Inventory.Reserve(ctx, in.OrderID, items)
	return c.done(ctx, fmt.Sprintf("reserved %d item(s)", len(items)), err)
}

// ReleaseInventory returns the order's reserved stock (compensates step 2).
func (a *Activities) ReleaseInventory(ctx context.Context, orderID string) (saga.Result, error) {
	c := begin(config.Inventory)
	r, err := a.Inventory.Release(ctx, orderID)
	return c.done(ctx, "reservation "+string(r.Status), err)
}

// RedeemCoupon redeems the order's coupon on its subtotal (step 3). The discount the
// payment service granted travels back in the result's AmountCents.
func (a *Activities) RedeemCoupon(ctx context.Context, in saga.RedeemInput) (saga.Result, error) {
	c := begin(config.Payment)
	r, err := a.Payments.RedeemCoupon(ctx, payment.RedeemRequest{
		OrderID: in.OrderID, CustomerID: in.CustomerID, Code: in.CouponCode,
		SubtotalCents: in.TotalCents, Currency: in.Currency,
	})
	res, err := c.done(ctx, "redeemed "+in.CouponCode+": −"+money.Format(r.DiscountCents, in.Currency), err)
	res.AmountCents = r.DiscountCents
	return res, err
}

// RestoreCoupon puts the order's coupon back to AVAILABLE, or leaves a tombstone that
// refuses a late redeem when none was redeemed (compensates step 3).
func (a *Activities) RestoreCoupon(ctx context.Context, orderID string) (saga.Result, error) {
	c := begin(config.Payment)
	r, err := a.Payments.RestoreCoupon(ctx, orderID)
	return c.done(ctx, "coupon redemption "+string(r.Status), err)
}

// ChargePayment charges the order's total to the customer (step 5).
func (a *Activities) ChargePayment(ctx context.Context, in saga.ChargeInput) (saga.Result, error) {
	c := begin(config.Payment)
	_, err := a.Payments.Charge(ctx, payment.ChargeRequest{
		OrderID: in.OrderID, CustomerID: in.CustomerID, AmountCents: in.TotalCents,
		Currency: in.Currency, PaymentMethod: in.PaymentMethod,
	})
	return c.done(ctx, "charged "+money.Format(in.TotalCents, in.Currency), err)
}

// RefundPayment refunds the order's charge, once (compensates step 5).
func (a *Activities) RefundPayment(ctx context.Context, orderID string) (saga.Result, error) {
	c := begin(config.Payment)
	p, err := a.Payments.Refund(ctx, orderID)
	return c.done(ctx, "payment "+string(p.Status), err)
}

// ScheduleShipping schedules the order's shipment (step 6).
func (a *Activities) ScheduleShipping(ctx context.Context, in saga.ShipInput) (saga.Result, error) {
	items := make([]shipping.Item, len(in.Items))
	for i, it := range in.Items {
		items[i] = shipping.Item{SKU: it.SKU, Quantity: it.Quantity}
	}
	c := begin(config.Shipping)
	s, err := a.Shipping.Schedule(ctx, shipping.ScheduleRequest{
		OrderID: in.OrderID, Address: shipping.Address(in.ShippingAddress), Items: items,
	})
	return c.done(ctx, "shipment scheduled with "+s.Carrier+", tracking "+s.TrackingNumber, err)
}

// CancelShipment cancels the order's shipment (compensates step 6).
func (a *Activities) CancelShipment(ctx context.Context, orderID string) (saga.Result, error) {
	c := begin(config.Shipping)
	s, err := a.Shipping.Cancel(ctx, orderID)
	return c.done(ctx, "shipment "+string(s.Status), err)
}

// ConfirmedDetail is the detail of a successful ConfirmOrder or ConfirmOrderWithState.
const ConfirmedDetail = "order COMPLETED"

// MaxStateBytes is the largest view of an order (saga.StatusInput.State) that the order
// service keeps; it refuses a larger one as invalid.
const MaxStateBytes = order.MaxStateBytes

// ConfirmOrder marks the order COMPLETED: the point of no return (step 7). Orders placed
// before saga revision 3 run it; later ones run ConfirmOrderWithState.
func (a *Activities) ConfirmOrder(ctx context.Context, orderID string) (saga.Result, error) {
	c := begin(config.Order)
	_, err := a.Orders.Confirm(ctx, orderID)
	return c.done(ctx, ConfirmedDetail, err)
}

// ConfirmOrderWithState marks the order COMPLETED (step 7) and hands the order service
// the saga's final view of it (in.State, version in.Version) in the same call, so that
// the read model needs no separate SyncOrderStatus at the end.
func (a *Activities) ConfirmOrderWithState(ctx context.Context, in saga.StatusInput) (saga.Result, error) {
	c := begin(config.Order)
	_, err := a.Orders.ConfirmWithView(ctx, in.OrderID, order.ConfirmRequest{Version: in.Version, State: in.State})
	return c.done(ctx, ConfirmedDetail, err)
}

// SyncOrderStatus mirrors a status of the saga, and its view of the order, into the order
// service: the read model that GET /v1/orders reads, kept current at every status
// change. Stale versions are ignored by the service. The workflow runs it as a local
// activity.
func (a *Activities) SyncOrderStatus(ctx context.Context, in saga.StatusInput) error {
	c := begin(config.Order)
	_, err := a.Orders.SetStatus(ctx, in.OrderID, order.StatusUpdate{
		Status:     order.Status(in.Status),
		Version:    in.Version,
		Reason:     domain.Reason.Clean(in.Reason),
		FailedStep: domain.Label.Clean(in.FailedStep),
		ErrorType:  domain.Label.Clean(in.ErrorType),
		State:      in.State,
	})
	_, err = c.done(ctx, "", err)
	return err
}
