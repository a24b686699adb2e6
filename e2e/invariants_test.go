package e2e

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// checkAllInvariants checks, after every test ran, that each stack's data agrees with its
// orders' final statuses, and that no order's workflow is left running. It prints each
// violation and returns the exit code.
func checkAllInvariants() int {
	code := 0
	for _, s := range env.stacks {
		violations, err := s.invariantViolations(context.Background())
		if err != nil {
			violations = append(violations, "could not check: "+err.Error())
		}
		for _, v := range violations {
			fmt.Fprintf(os.Stderr, "INVARIANT [%s]: %s\n", s.name, v)
			code = 1
		}
		if len(violations) == 0 {
			fmt.Fprintf(os.Stderr, "e2e: invariants hold on the %s stack\n", s.name)
		}
	}
	return code
}

func (s *stack) invariantViolations(ctx context.Context) ([]string, error) {
	var (
		bad      []string
		reserved = map[string]int{}   // SKU → quantity held by RESERVED reservations
		charged  = map[string]int64{} // customer → cents of CHARGED payments
		orders   int
	)
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	q := order.ListQuery{Limit: order.MaxLimit}
	for {
		page, err := s.orders.List(ctx, q)
		if err != nil {
			return bad, err
		}
		for _, o := range page.Orders {
			orders++
			res, rerr := s.inventory.Reservation(ctx, o.OrderID)
			pay, perr := s.payments.Payment(ctx, o.OrderID)
			ship, serr := s.shipping.Shipment(ctx, o.OrderID)
			for _, err := range []error{rerr, perr, serr} {
				if err != nil && !notFound(err) {
					return bad, err
				}
			}
			if rerr == nil && res.Status == inventory.Reserved {
				for _, it := range res.Items {
					reserved[it.SKU] += it.Quantity
				}
			}
			if perr == nil && pay.Status == payment.Charged {
				charged[pay.CustomerID] += pay.AmountCents
			}
			switch o.Status {
			case order.Completed:
				if rerr != nil || res.Status != inventory.Reserved {
					badf("order %s COMPLETED but its reservation is %v (%v)", o.OrderID, res.Status, rerr)
				}
				if perr != nil || pay.Status != payment.Charged || pay.AmountCents != o.TotalCents {
					badf("order %s COMPLETED for %d¢ but its payment is %v %d¢ (%v)", o.OrderID, o.TotalCents, pay.Status, pay.AmountCents, perr)
				}
				if serr != nil || ship.Status != shipping.Scheduled {
					badf("order %s COMPLETED but its shipment is %v (%v)", o.OrderID, ship.Status, serr)
				}
			case order.Rejected, order.Cancelled:
				if rerr == nil && res.Status == inventory.Reserved {
					badf("order %s %s but stock is still reserved", o.OrderID, o.Status)
				}
				if perr == nil && (pay.Status == payment.Charged || pay.Status == payment.Pending) {
					badf("order %s %s but its payment is %s", o.OrderID, o.Status, pay.Status)
				}
				if serr == nil && ship.Status == shipping.Scheduled {
					badf("order %s %s but its shipment is still scheduled", o.OrderID, o.Status)
				}
			default:
				badf("order %s was left %s", o.OrderID, o.Status)
			}
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}

	products, err := s.inventory.Products(ctx)
	if err != nil {
		return bad, err
	}
	for _, p := range products {
		if initial, known := s.initialStock[p.SKU]; known && p.Available+p.Reserved != initial {
			badf("%s: available %d + reserved %d != initial stock %d", p.SKU, p.Available, p.Reserved, initial)
		}
		if p.Reserved != reserved[p.SKU] {
			badf("%s: reserved %d, but RESERVED reservations hold %d", p.SKU, p.Reserved, reserved[p.SKU])
		}
	}
	for id, initial := range s.initialBalance {
		c, err := s.payments.Customer(ctx, id)
		if err != nil {
			return bad, err
		}
		if c.BalanceCents != initial-charged[id] {
			badf("customer %s: balance %d, want initial %d - charged %d = %d", id, c.BalanceCents, initial, charged[id], initial-charged[id])
		}
	}

	// Every order's workflow has closed (visibility lags a little behind).
	query := fmt.Sprintf("TaskQueue = %q AND ExecutionStatus = 'Running'", s.taskQueue)
	var running int64
	for range 50 {
		resp, err := s.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err != nil {
			return bad, err
		}
		if running = resp.GetCount(); running == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if running != 0 {
		badf("%d workflows still running on %s", running, s.taskQueue)
	}
	fmt.Fprintf(os.Stderr, "e2e: checked %d orders, %d products, %d customers on the %s stack\n", orders, len(products), len(s.initialBalance), s.name)
	return bad, nil
}
