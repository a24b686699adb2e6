// Package books checks that the services' books agree with the orders' outcomes: after a
// set of orders has settled, every one is final (or waits for an operator), and the
// stock, the balances, the coupons, the payments and the shipments are exactly what the
// COMPLETED orders account for. Nothing lost, nothing charged twice, no stock leaked.
//
// It reads only what a client can: the public API (each order's status) and the
// services' read endpoints. The load generator and the end-to-end tests share it.
//
// CheckEvents checks the services' event stream against the same records: what a
// consumer of the stream learns of each order is exactly what happened to it.
package books

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// Source is what the check reads. The services' clients and the API client satisfy it;
// tests feed it broken books.
type Source interface {
	// Order returns an order as the public API shows it.
	Order(ctx context.Context, orderID string) (saga.OrderState, error)
	// Product returns a product with its available and reserved stock.
	Product(ctx context.Context, sku string) (inventory.Product, error)
	// Reservation returns an order's reservation; an error wrapping inventory.ErrNotFound
	// when it has none.
	Reservation(ctx context.Context, orderID string) (inventory.Reservation, error)
	// Customer returns a customer and its balance.
	Customer(ctx context.Context, customerID string) (payment.Customer, error)
	// Payment returns an order's payment; an error wrapping payment.ErrNotFound when it
	// has none.
	Payment(ctx context.Context, orderID string) (payment.Payment, error)
	// Shipment returns an order's shipment; an error wrapping shipping.ErrNotFound when it
	// has none.
	Shipment(ctx context.Context, orderID string) (shipping.Shipment, error)
	// Redemption returns an order's coupon redemption; an error wrapping
	// payment.ErrNotFound when it has none.
	Redemption(ctx context.Context, orderID string) (payment.Redemption, error)
	// Coupons returns a customer's coupons.
	Coupons(ctx context.Context, customerID string) ([]payment.Coupon, error)
}

// Opening is the state of the books before the orders: the stock (available plus
// reserved) of every SKU they use and the balance of every customer who placed them.
// Only orders in the check may have touched these.
type Opening struct {
	Stock    map[string]int
	Balances map[string]int64
}

// Report is the outcome of a check.
type Report struct {
	// Orders counts the orders checked, and ByStatus by final status.
	Orders   int
	ByStatus map[saga.OrderStatus]int
	// NeedsAttention lists the orders waiting for an operator: their holdings are counted
	// as held, not as leaks.
	NeedsAttention []string
	// Problems lists what disagrees, order by order, then SKU by SKU and customer by
	// customer. Empty when the books are right.
	Problems []string
}

// OK reports whether the books are right.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Check reads the orders and the books and reports every disagreement. It returns an
// error only when it cannot read something.
func Check(ctx context.Context, src Source, orderIDs []string, open Opening) (Report, error) {
	r := Report{ByStatus: map[saga.OrderStatus]int{}}
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	var (
		held    = map[string]int{}   // SKU → units held by COMPLETED and NEEDS_ATTENTION orders
		charged = map[string]int64{} // customer → cents taken for COMPLETED and NEEDS_ATTENTION orders
		// customer → coupon code → the order whose redemption holds it
		coupons = map[string]map[string]string{}
	)
	for _, id := range orderIDs {
		r.Orders++
		o, err := src.Order(ctx, id)
		if err != nil {
			return r, fmt.Errorf("order %s: %w", id, err)
		}
		r.ByStatus[o.Status]++
		rec, err := readRecords(ctx, src, id)
		if err != nil {
			return r, err
		}
		res, pay, ship, red := rec.reservation, rec.payment, rec.shipment, rec.redemption
		reserved := rec.hasReservation && res.Status == inventory.Reserved
		paid := rec.hasPayment && pay.Status == payment.Charged
		shipped := rec.hasShipment && ship.Status == shipping.Scheduled
		redeemed := rec.hasRedemption && red.Status == payment.RedemptionRedeemed
		if redeemed {
			if coupons[red.CustomerID] == nil {
				coupons[red.CustomerID] = map[string]string{}
			}
			coupons[red.CustomerID][red.Code] = id
		}
		if reserved {
			for _, it := range res.Items {
				held[it.SKU] += it.Quantity
			}
		}
		if paid {
			charged[pay.CustomerID] += pay.AmountCents
		}
		switch {
		case o.Status == saga.StatusCompleted:
			if !reserved || !sameItems(res.Items, o.Items) {
				problem("order %s is COMPLETED but its reservation is %s %v, not its items %v", id, res.Status, res.Items, o.Items)
			}
			if want := o.TotalCents > 0; paid != want || (paid && pay.AmountCents != o.TotalCents) {
				problem("order %s is COMPLETED for %d¢ but its payment is %s %d¢", id, o.TotalCents, statusOr(pay.Status, rec.hasPayment), pay.AmountCents)
			}
			if !shipped {
				problem("order %s is COMPLETED but its shipment is %s", id, statusOr(ship.Status, rec.hasShipment))
			}
			switch {
			case o.CouponCode == "" && redeemed:
				problem("order %s is COMPLETED without a coupon but redeemed %s", id, red.Code)
			case o.CouponCode != "" && (!redeemed || red.Code != o.CouponCode || red.DiscountCents != o.DiscountCents):
				problem("order %s is COMPLETED with coupon %s (-%d¢) but its redemption is %s %s (-%d¢)",
					id, o.CouponCode, o.DiscountCents, statusOr(red.Status, rec.hasRedemption), red.Code, red.DiscountCents)
			}
			if o.SubtotalCents > 0 && o.TotalCents != o.SubtotalCents-o.DiscountCents {
				problem("order %s totals %d¢, but its subtotal %d¢ less its discount %d¢ is %d¢",
					id, o.TotalCents, o.SubtotalCents, o.DiscountCents, o.SubtotalCents-o.DiscountCents)
			}
		case o.Status == saga.StatusNeedsAttention:
			r.NeedsAttention = append(r.NeedsAttention, id)
		case o.Status.Final(): // REJECTED or CANCELLED: everything undone
			if reserved {
				problem("order %s is %s but still holds %v", id, o.Status, res.Items)
			}
			if rec.hasPayment && (pay.Status == payment.Charged || pay.Status == payment.Pending) {
				problem("order %s is %s but its payment is %s (%d¢)", id, o.Status, pay.Status, pay.AmountCents)
			}
			if shipped {
				problem("order %s is %s but its shipment is still scheduled", id, o.Status)
			}
			if redeemed {
				problem("order %s is %s but still holds coupon %s", id, o.Status, red.Code)
			}
		default:
			problem("order %s is still %s: lost or stuck", id, o.Status)
		}
	}

	for _, sku := range slices.Sorted(maps.Keys(open.Stock)) {
		p, err := src.Product(ctx, sku)
		if err != nil {
			return r, fmt.Errorf("product %s: %w", sku, err)
		}
		initial := open.Stock[sku]
		if p.Available+p.Reserved != initial {
			problem("%s: available %d + reserved %d = %d, but the opening stock was %d", sku, p.Available, p.Reserved, p.Available+p.Reserved, initial)
		}
		if p.Reserved != held[sku] {
			problem("%s: %d reserved, but the completed orders (and those awaiting an operator) hold %d", sku, p.Reserved, held[sku])
		}
	}
	for _, id := range slices.Sorted(maps.Keys(open.Balances)) {
		c, err := src.Customer(ctx, id)
		if err != nil {
			return r, fmt.Errorf("customer %s: %w", id, err)
		}
		if want := open.Balances[id] - charged[id]; c.BalanceCents != want {
			problem("customer %s: balance %d¢, but the opening %d¢ less %d¢ charged for completed orders is %d¢",
				id, c.BalanceCents, open.Balances[id], charged[id], want)
		}
	}
	// Each customer's REDEEMED coupons are exactly those the orders' redemptions hold.
	for _, id := range slices.Sorted(maps.Keys(open.Balances)) {
		list, err := src.Coupons(ctx, id)
		if err != nil {
			return r, fmt.Errorf("coupons of %s: %w", id, err)
		}
		redeemedBy := map[string]string{}
		for _, c := range list {
			if c.Status == payment.CouponRedeemed {
				redeemedBy[c.Code] = c.OrderID
			}
		}
		for _, code := range slices.Sorted(maps.Keys(coupons[id])) {
			if order := coupons[id][code]; redeemedBy[code] != order {
				problem("coupon %s of %s: order %s redeemed it, but the coupon is REDEEMED by %q", code, id, order, redeemedBy[code])
			}
		}
		for _, code := range slices.Sorted(maps.Keys(redeemedBy)) {
			if order := redeemedBy[code]; coupons[id][code] != order {
				problem("coupon %s of %s is REDEEMED by %s, whose redemption does not hold it", code, id, order)
			}
		}
	}
	sort.Strings(r.NeedsAttention)
	return r, nil
}

// orderRecords are an order's records in the inventory, payment and shipping services.
// A service that holds none for the order is not an error: its has… flag is false.
type orderRecords struct {
	reservation    inventory.Reservation
	payment        payment.Payment
	shipment       shipping.Shipment
	redemption     payment.Redemption
	hasReservation bool
	hasPayment     bool
	hasShipment    bool
	hasRedemption  bool
}

// readRecords reads order id's records from src, for the books and for the events check.
func readRecords(ctx context.Context, src Source, id string) (orderRecords, error) {
	var (
		rec                    orderRecords
		rerr, perr, serr, cerr error
	)
	rec.reservation, rerr = src.Reservation(ctx, id)
	rec.payment, perr = src.Payment(ctx, id)
	rec.shipment, serr = src.Shipment(ctx, id)
	rec.redemption, cerr = src.Redemption(ctx, id)
	for _, err := range []error{rerr, perr, serr, cerr} {
		if err != nil && !notFound(err) {
			return rec, fmt.Errorf("order %s: %w", id, err)
		}
	}
	rec.hasReservation, rec.hasPayment, rec.hasShipment, rec.hasRedemption = rerr == nil, perr == nil, serr == nil, cerr == nil
	return rec, nil
}

func notFound(err error) bool {
	return errors.Is(err, inventory.ErrNotFound) || errors.Is(err, payment.ErrNotFound) || errors.Is(err, shipping.ErrNotFound)
}

func statusOr[S ~string](s S, found bool) string {
	if !found {
		return "missing"
	}
	return string(s)
}

func sameItems(res []inventory.Item, ordered []saga.Item) bool {
	if len(res) != len(ordered) {
		return false
	}
	for _, it := range ordered {
		if !slices.Contains(res, inventory.Item{SKU: it.SKU, Quantity: it.Quantity}) {
			return false
		}
	}
	return true
}
