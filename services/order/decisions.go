package order

import (
	"fmt"
	"slices"
	"strings"
)

// The order's state machine, as pure decisions: each takes the order as stored (and the
// request) and says what becomes of it. The store loads the order under a row lock, calls
// the decision and writes what it says, so that two requests for one order are decided
// one after the other, each on the other's outcome.
//
//	(none) --Create--> PENDING --SetStatus--> RESERVED, AWAITING_APPROVAL, PAID,
//	SHIPPING_SCHEDULED, COMPENSATING, NEEDS_ATTENTION (any order, by version)
//	any non-terminal --Confirm--> COMPLETED
//	any non-terminal --Cancel, or SetStatus at the saga's end--> CANCELLED or REJECTED
//	(none) --Cancel--> a CANCELLED or REJECTED tombstone, which refuses a later Create
//	COMPLETED, CANCELLED, REJECTED: terminal; the status and reason never change again

// decideCreate says what a create does when its order ID is taken: answer the existing
// order (nil), or refuse with ErrCompensated (the order was undone, or a tombstone
// waits for it) or ErrConflict (the ID holds another order).
func decideCreate(existing Order, req CreateRequest) error {
	switch {
	case existing.Status.compensated():
		return fmt.Errorf("%w (%s)", ErrCompensated, existing.Status)
	case !existing.sameBody(req):
		return ErrConflict
	}
	return nil
}

// sameBody reports whether o was created from a request equal to req. Items are compared
// regardless of their order.
func (o Order) sameBody(req CreateRequest) bool {
	return o.CustomerID == req.CustomerID && o.TotalCents == req.TotalCents &&
		o.Currency == req.Currency && o.PaymentMethod == req.PaymentMethod &&
		o.ShippingAddress == req.ShippingAddress && slices.Equal(sortedItems(o.Items), sortedItems(req.Items))
}

func sortedItems(items []Item) []Item {
	s := slices.Clone(items)
	slices.SortFunc(s, func(a, b Item) int { return strings.Compare(a.SKU, b.SKU) })
	return s
}

// decideConfirm says what Confirm does to o: a non-terminal order becomes COMPLETED; a
// COMPLETED one stays as it is; a cancelled or rejected one refuses with ErrCompensated.
func decideConfirm(o Order) (Order, bool, error) {
	switch {
	case o.Status == Completed:
		return o, false, nil
	case o.Status.compensated():
		return o, false, fmt.Errorf("%w (%s)", ErrCompensated, o.Status)
	}
	o.Status = Completed
	return o, true, nil
}

// decideCancel says what Cancel does to o: a non-terminal order takes the request's
// status and reason; a cancelled or rejected one keeps its first outcome; a COMPLETED one
// refuses with ErrCompleted.
func decideCancel(o Order, req CancelRequest) (Order, bool, error) {
	switch {
	case o.Status == Completed:
		return o, false, ErrCompleted
	case o.Status.compensated():
		return o, false, nil
	}
	o.Status, o.Reason, o.FailedStep, o.ErrorType = req.Status, req.Reason, req.FailedStep, req.ErrorType
	return o, true, nil
}

// applyStatus decides what a status update does to the order o: the order as it becomes,
// and whether anything changed. An update older than the order's version changes nothing. A newer one always replaces
// the saga's view (State) and version; it moves the status only while the order is not
// terminal, and never to COMPLETED, which only Confirm writes.
func applyStatus(o Order, u StatusUpdate) (Order, bool) {
	if u.Version <= o.Version {
		return o, false
	}
	o.Version = u.Version
	if len(u.State) > 0 {
		o.State = u.State
	}
	if o.Status.Terminal() || u.Status == Completed {
		return o, true
	}
	o.Status = u.Status
	if u.Status.Terminal() {
		o.Reason, o.FailedStep, o.ErrorType = u.Reason, u.FailedStep, u.ErrorType
	}
	return o, true
}
