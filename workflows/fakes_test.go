package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// fakeServices stands in for the four service clients. It records every call, in order,
// and answers each call with the next error scripted for its operation (nil: success).
type fakeServices struct {
	mu      sync.Mutex
	calls   []string
	script  map[string][]error
	always  map[string]error
	charges int // successful charges
	refunds int // refunds that returned money
	// chargedCents is the amount of the last successful charge.
	chargedCents int64
	statuses     []string
	// state is the saga's last view of the order, as mirrored to the order service, and
	// version its version.
	state   []byte
	version int64
	// syncs counts the status mirrors (SetStatus calls).
	syncs int
	// reasons are the reasons the order service was given, by CancelOrder and the final
	// status.
	reasons []string
}

// One adapter per service, each recording into the same fakeServices.
type (
	orderFake     struct{ *fakeServices }
	inventoryFake struct{ *fakeServices }
	paymentFake   struct{ *fakeServices }
	shippingFake  struct{ *fakeServices }
)

var (
	_ activities.OrderService     = orderFake{}
	_ activities.InventoryService = inventoryFake{}
	_ activities.PaymentService   = paymentFake{}
	_ activities.ShippingService  = shippingFake{}
)

func newFakes() *fakeServices {
	return &fakeServices{script: map[string][]error{}, always: map[string]error{}}
}

// failNext makes the next calls of op fail with errs, one each.
func (f *fakeServices) failNext(op string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[op] = append(f.script[op], errs...)
}

// failAlways makes every call of op fail with err until cleared with nil.
func (f *fakeServices) failAlways(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.always, op)
		return
	}
	f.always[op] = err
}

func (f *fakeServices) call(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	if err, ok := f.always[op]; ok {
		return err
	}
	if q := f.script[op]; len(q) > 0 {
		f.script[op] = q[1:]
		return q[0]
	}
	return nil
}

// ops returns the distinct operations called, in the order of their first call, leaving
// out the status mirror.
func (f *fakeServices) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// compensations returns the compensating operations in the order they were first called.
func (f *fakeServices) compensations() []string {
	var out []string
	for _, op := range f.ops() {
		switch op {
		case "CancelOrder", "ReleaseInventory", "RestoreCoupon", "RefundPayment", "CancelShipment":
			out = append(out, op)
		}
	}
	return out
}

func (f *fakeServices) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

func (f *fakeServices) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, " ")
}

func (f orderFake) Create(_ context.Context, req order.CreateRequest) (order.Order, error) {
	return order.Order{OrderID: req.OrderID, Status: order.Pending}, f.call("CreateOrder")
}

func (f orderFake) Confirm(_ context.Context, id string) (order.Order, error) {
	return order.Order{OrderID: id, Status: order.Completed}, f.call("ConfirmOrder")
}

// ConfirmWithView keeps the view as the order service does: only when it is newer.
func (f orderFake) ConfirmWithView(_ context.Context, id string, req order.ConfirmRequest) (order.Order, error) {
	err := f.call("ConfirmOrder")
	if err == nil {
		err = req.Validate()
	}
	if err != nil {
		return order.Order{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Version > f.version {
		f.statuses = append(f.statuses, string(order.Completed)+":")
		f.reasons = append(f.reasons, "")
		f.state, f.version = req.State, req.Version
	}
	return order.Order{OrderID: id, Status: order.Completed}, nil
}

// Cancel and SetStatus check their requests as the order service does, and record what
// the service would store: intermediate statuses as "STATUS", final ones as
// "STATUS:ErrorType".
func (f orderFake) Cancel(_ context.Context, id string, req order.CancelRequest) (order.Order, error) {
	err := f.call("CancelOrder")
	if err == nil {
		err = req.Validate()
	}
	if err == nil {
		f.mu.Lock()
		f.statuses = append(f.statuses, string(req.Status)+":"+req.ErrorType)
		f.reasons = append(f.reasons, req.Reason)
		f.mu.Unlock()
	}
	return order.Order{OrderID: id, Status: req.Status}, err
}

func (f orderFake) SetStatus(_ context.Context, id string, u order.StatusUpdate) (order.Order, error) {
	if err := u.Validate(); err != nil {
		return order.Order{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	if u.Version <= f.version {
		return order.Order{OrderID: id, Status: u.Status}, nil // stale: the service ignores it
	}
	if u.Status.Terminal() {
		f.statuses = append(f.statuses, string(u.Status)+":"+u.ErrorType)
		f.reasons = append(f.reasons, u.Reason)
	} else {
		f.statuses = append(f.statuses, string(u.Status))
	}
	f.state, f.version = u.State, u.Version
	return order.Order{OrderID: id, Status: u.Status}, nil
}

func (f inventoryFake) Reserve(_ context.Context, id string, items []inventory.Item) (inventory.Reservation, error) {
	return inventory.Reservation{OrderID: id, Status: inventory.Reserved, Items: items}, f.call("ReserveInventory")
}

func (f inventoryFake) Release(_ context.Context, id string) (inventory.Reservation, error) {
	return inventory.Reservation{OrderID: id, Status: inventory.Released}, f.call("ReleaseInventory")
}

func (f paymentFake) Charge(_ context.Context, req payment.ChargeRequest) (payment.Payment, error) {
	err := f.call("ChargePayment")
	if err == nil {
		f.mu.Lock()
		f.charges++
		f.chargedCents = req.AmountCents
		f.mu.Unlock()
	}
	return payment.Payment{OrderID: req.OrderID, Status: payment.Charged, AmountCents: req.AmountCents}, err
}

func (f paymentFake) Refund(_ context.Context, id string) (payment.Payment, error) {
	err := f.call("RefundPayment")
	if err == nil {
		f.mu.Lock()
		f.refunds++
		f.mu.Unlock()
	}
	return payment.Payment{OrderID: id, Status: payment.Refunded}, err
}

// RedeemCoupon grants 10% of the subtotal, as a WELCOME10 coupon would.
func (f paymentFake) RedeemCoupon(_ context.Context, req payment.RedeemRequest) (payment.Redemption, error) {
	return payment.Redemption{OrderID: req.OrderID, CustomerID: req.CustomerID, Code: req.Code,
		Status: payment.RedemptionRedeemed, DiscountCents: req.SubtotalCents / 10}, f.call("RedeemCoupon")
}

func (f paymentFake) RestoreCoupon(_ context.Context, id string) (payment.Redemption, error) {
	return payment.Redemption{OrderID: id, Status: payment.RedemptionRestored}, f.call("RestoreCoupon")
}

func (f shippingFake) Schedule(_ context.Context, req shipping.ScheduleRequest) (shipping.Shipment, error) {
	return shipping.Shipment{OrderID: req.OrderID, Status: shipping.Scheduled, Carrier: "UPS", TrackingNumber: "1ZTEST"},
		f.call("ScheduleShipping")
}

func (f shippingFake) Cancel(_ context.Context, id string) (shipping.Shipment, error) {
	return shipping.Shipment{OrderID: id, Status: shipping.Cancelled}, f.call("CancelShipment")
}

// unavailable is a transient service error, as the HTTP client reports a 503.
func unavailable(what string) error {
	return fmt.Errorf("%w: %s (test)", httpx.ErrUnavailable, what)
}

func (f *fakeServices) activities() *activities.Activities {
	return &activities.Activities{Orders: orderFake{f}, Inventory: inventoryFake{f}, Payments: paymentFake{f}, Shipping: shippingFake{f}}
}
