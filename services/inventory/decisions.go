package inventory

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ordersaga/ordersaga/domain"
)

// A reservation's state machine, as pure decisions. The store holds the concurrency
// guards: the reservation's primary key (one insert wins), the conditional stock
// decrements (never below zero), and the row lock under which a release is decided.
//
//	(none) --Reserve--> RESERVED (every item's stock taken) --Release--> RELEASED (given back)
//	(none) --Release--> VOIDED (a tombstone: a later Reserve is refused)
//	(none) --Reserve, short of stock--> (none): OutOfStock, nothing taken

// decideReserve says what a reserve does when the order already has a reservation:
// answer it (nil), or refuse with ErrCompensated (released or voided) or ErrConflict
// (other items).
func decideReserve(existing Reservation, items []Item) error {
	switch {
	case existing.Status != Reserved:
		return fmt.Errorf("%w (%s)", ErrCompensated, existing.Status)
	case !sameItems(existing.Items, items):
		return ErrConflict
	}
	return nil
}

// decideRelease says what a release does to r: a RESERVED reservation becomes RELEASED
// and its stock goes back (restock); a RELEASED or VOIDED one stays as it is.
func decideRelease(r Reservation) (next ReservationStatus, restock bool) {
	if r.Status == Reserved {
		return Released, true
	}
	return r.Status, false
}

// sameItems reports whether a and b hold the same quantities of the same SKUs.
func sameItems(a, b []Item) bool {
	line := func(it Item) (string, int) { return it.SKU, it.Quantity }
	return domain.SameLines(a, b, line, line)
}

// bySKU returns items sorted by SKU: stock rows are always locked in this order, so that
// two orders never wait on each other.
func bySKU(items []Item) []Item {
	s := slices.Clone(items)
	slices.SortFunc(s, func(a, b Item) int { return strings.Compare(a.SKU, b.SKU) })
	return s
}
