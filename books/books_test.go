package books

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// ledger is books held in memory, which the tests break on purpose.
type ledger struct {
	orders       map[string]saga.OrderState
	products     map[string]inventory.Product
	reservations map[string]inventory.Reservation
	customers    map[string]payment.Customer
	payments     map[string]payment.Payment
	shipments    map[string]shipping.Shipment
	redemptions  map[string]payment.Redemption
	coupons      map[string][]payment.Coupon
}

var _ Source = (*ledger)(nil)

func (l *ledger) Order(_ context.Context, id string) (saga.OrderState, error) {
	o, ok := l.orders[id]
	if !ok {
		return o, fmt.Errorf("order %s not found", id)
	}
	return o, nil
}

func (l *ledger) Product(_ context.Context, sku string) (inventory.Product, error) {
	return l.products[sku], nil
}

func (l *ledger) Reservation(_ context.Context, id string) (inventory.Reservation, error) {
	r, ok := l.reservations[id]
	if !ok {
		return r, inventory.ErrNotFound
	}
	return r, nil
}

func (l *ledger) Customer(_ context.Context, id string) (payment.Customer, error) {
	return l.customers[id], nil
}

func (l *ledger) Payment(_ context.Context, id string) (payment.Payment, error) {
	p, ok := l.payments[id]
	if !ok {
		return p, payment.ErrNotFound
	}
	return p, nil
}

func (l *ledger) Shipment(_ context.Context, id string) (shipping.Shipment, error) {
	s, ok := l.shipments[id]
	if !ok {
		return s, shipping.ErrNotFound
	}
	return s, nil
}

func (l *ledger) Redemption(_ context.Context, id string) (payment.Redemption, error) {
	r, ok := l.redemptions[id]
	if !ok {
		return r, payment.ErrNotFound
	}
	return r, nil
}

func (l *ledger) Coupons(_ context.Context, customerID string) ([]payment.Coupon, error) {
	return l.coupons[customerID], nil
}

// balanced are the right books of two orders: o-1 COMPLETED (2 books, $30.00 less a
// $3.00 coupon), o-2 REJECTED at shipping (reserved, coupon redeemed, charged, refunded,
// coupon restored, released).
func balanced() *ledger {
	return &ledger{
		orders: map[string]saga.OrderState{
			"o-1": {OrderID: "o-1", Status: saga.StatusCompleted, SubtotalCents: 3000, CouponCode: "TEN", DiscountCents: 300, TotalCents: 2700, Items: []saga.Item{{SKU: "BOOK", Quantity: 2, UnitPriceCents: 1500}}},
			"o-2": {OrderID: "o-2", Status: saga.StatusRejected, TotalCents: 1500, Items: []saga.Item{{SKU: "BOOK", Quantity: 1, UnitPriceCents: 1500}}},
		},
		products: map[string]inventory.Product{"BOOK": {SKU: "BOOK", Available: 8, Reserved: 2}},
		reservations: map[string]inventory.Reservation{
			"o-1": {OrderID: "o-1", Status: inventory.Reserved, Items: []inventory.Item{{SKU: "BOOK", Quantity: 2}}},
			"o-2": {OrderID: "o-2", Status: inventory.Released, Items: []inventory.Item{{SKU: "BOOK", Quantity: 1}}},
		},
		customers: map[string]payment.Customer{"c-1": {CustomerID: "c-1", BalanceCents: 7300}},
		payments: map[string]payment.Payment{
			"o-1": {OrderID: "o-1", CustomerID: "c-1", Status: payment.Charged, AmountCents: 2700},
			"o-2": {OrderID: "o-2", CustomerID: "c-1", Status: payment.Refunded, AmountCents: 1500},
		},
		shipments: map[string]shipping.Shipment{"o-1": {OrderID: "o-1", Status: shipping.Scheduled}},
		redemptions: map[string]payment.Redemption{
			"o-1": {OrderID: "o-1", CustomerID: "c-1", Code: "TEN", Status: payment.RedemptionRedeemed, DiscountCents: 300},
			"o-2": {OrderID: "o-2", CustomerID: "c-1", Code: "FIVE", Status: payment.RedemptionRestored, DiscountCents: 150},
		},
		coupons: map[string][]payment.Coupon{"c-1": {
			{CustomerID: "c-1", Code: "FIVE", Status: payment.CouponAvailable},
			{CustomerID: "c-1", Code: "TEN", Status: payment.CouponRedeemed, OrderID: "o-1"},
		}},
	}
}

var opening = Opening{Stock: map[string]int{"BOOK": 10}, Balances: map[string]int64{"c-1": 10000}}

func TestCheckFindsEveryKindOfError(t *testing.T) {
	cases := []struct {
		name       string
		breakBooks func(l *ledger)
		want       string
	}{
		{"a stock leak: a rejected order's stock stays reserved", func(l *ledger) {
			r := l.reservations["o-2"]
			r.Status = inventory.Reserved
			l.reservations["o-2"] = r
			l.products["BOOK"] = inventory.Product{SKU: "BOOK", Available: 7, Reserved: 3}
		}, "order o-2 is REJECTED but still holds"},
		{"stock lost: units gone from the product", func(l *ledger) {
			l.products["BOOK"] = inventory.Product{SKU: "BOOK", Available: 7, Reserved: 2}
		}, "BOOK: available 7 + reserved 2 = 9, but the opening stock was 10"},
		{"a double charge: the customer paid twice", func(l *ledger) {
			l.customers["c-1"] = payment.Customer{CustomerID: "c-1", BalanceCents: 4600}
		}, "customer c-1: balance 4600¢"},
		{"a charge kept for a rejected order", func(l *ledger) {
			p := l.payments["o-2"]
			p.Status = payment.Charged
			l.payments["o-2"] = p
		}, "order o-2 is REJECTED but its payment is CHARGED"},
		{"a lost order: never settled", func(l *ledger) {
			o := l.orders["o-2"]
			o.Status = saga.StatusPaid
			l.orders["o-2"] = o
		}, "order o-2 is still PAID: lost or stuck"},
		{"a shipment for a rejected order", func(l *ledger) {
			l.shipments["o-2"] = shipping.Shipment{OrderID: "o-2", Status: shipping.Scheduled}
		}, "order o-2 is REJECTED but its shipment is still scheduled"},
		{"a completed order never shipped", func(l *ledger) { delete(l.shipments, "o-1") },
			"order o-1 is COMPLETED but its shipment is missing"},
		{"a completed order charged the wrong amount", func(l *ledger) {
			p := l.payments["o-1"]
			p.AmountCents = 2000
			l.payments["o-1"] = p
		}, "order o-1 is COMPLETED for 2700¢ but its payment is CHARGED 2000¢"},
		{"a coupon kept by a rejected order", func(l *ledger) {
			r := l.redemptions["o-2"]
			r.Status = payment.RedemptionRedeemed
			l.redemptions["o-2"] = r
		}, "order o-2 is REJECTED but still holds coupon FIVE"},
		{"a completed order's coupon given back", func(l *ledger) {
			r := l.redemptions["o-1"]
			r.Status = payment.RedemptionRestored
			l.redemptions["o-1"] = r
		}, "order o-1 is COMPLETED with coupon TEN (-300¢) but its redemption is RESTORED"},
		{"a coupon REDEEMED for nobody", func(l *ledger) {
			l.coupons["c-1"][0] = payment.Coupon{CustomerID: "c-1", Code: "FIVE", Status: payment.CouponRedeemed, OrderID: "o-2"}
		}, "coupon FIVE of c-1 is REDEEMED by o-2, whose redemption does not hold it"},
		{"a discount that does not add up", func(l *ledger) {
			o := l.orders["o-1"]
			o.DiscountCents = 200
			l.orders["o-1"] = o
		}, "order o-1 totals 2700¢, but its subtotal 3000¢ less its discount 200¢ is 2800¢"},
	}
	t.Run("the right books pass", func(t *testing.T) {
		r, err := Check(context.Background(), balanced(), []string{"o-1", "o-2"}, opening)
		if err != nil || !r.OK() || r.Orders != 2 || r.ByStatus[saga.StatusCompleted] != 1 {
			t.Errorf("report = %+v, %v", r, err)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name+" is reported", func(t *testing.T) {
			l := balanced()
			tc.breakBooks(l)
			r, err := Check(context.Background(), l, []string{"o-1", "o-2"}, opening)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(r.Problems, "\n"), tc.want) {
				t.Errorf("problems = %q, want one saying %q", r.Problems, tc.want)
			}
		})
	}
	t.Run("an order waiting for an operator holds its stock and money, listed", func(t *testing.T) {
		l := balanced()
		o := l.orders["o-2"]
		o.Status = saga.StatusNeedsAttention
		l.orders["o-2"] = o
		r, err := Check(context.Background(), l, []string{"o-1", "o-2"}, opening)
		if err != nil || !r.OK() || len(r.NeedsAttention) != 1 || r.NeedsAttention[0] != "o-2" {
			t.Errorf("report = %+v, %v", r, err)
		}
	})
	t.Run("an order the API does not know is an error of the check", func(t *testing.T) {
		if _, err := Check(context.Background(), balanced(), []string{"o-9"}, opening); err == nil {
			t.Error("no error for an unknown order")
		}
	})
}
