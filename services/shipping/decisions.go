package shipping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ordersaga/ordersaga/domain"
)

// A shipment's state machine, as pure decisions. The store holds the concurrency guards:
// the shipment's primary key (one insert wins, and a tombstone makes a late schedule's
// insert do nothing) and the row lock under which a cancel is decided.
//
//	(none) --Schedule, to a served address--> SCHEDULED --Cancel--> CANCELLED
//	(none) --Cancel--> VOIDED (a tombstone: a later Schedule is refused)
//	(none) --Schedule, to an unserved address--> (none): ShippingUnavailable

// served reports why no carrier delivers to a, or "" when one does.
func served(a Address) string {
	switch {
	case !slices.Contains(ServedCountries, a.Country) || Carrier(a.Country) == "":
		return "country " + a.Country + " is not served"
	case strings.TrimSpace(a.PostalCode) == UnservedPostalCode:
		return "postal code " + UnservedPostalCode + " is not served"
	}
	return ""
}

// decideSchedule says what a schedule does when the order already has a shipment: answer
// it (nil), or refuse with ErrCompensated (cancelled or voided) or ErrConflict (another
// address or other items).
func decideSchedule(existing Shipment, req ScheduleRequest) error {
	switch {
	case existing.Status != Scheduled:
		return fmt.Errorf("%w (%s)", ErrCompensated, existing.Status)
	case existing.Address != req.Address || !sameItems(existing.Items, req.Items):
		return ErrConflict
	}
	return nil
}

// decideCancel says what a cancel does to s: a SCHEDULED shipment becomes CANCELLED; a
// CANCELLED or VOIDED one stays as it is.
func decideCancel(s Shipment) Status {
	if s.Status == Scheduled {
		return Cancelled
	}
	return s.Status
}

// sameItems reports whether a and b hold the same quantities of the same SKUs.
func sameItems(a, b []Item) bool {
	line := func(it Item) (string, int) { return it.SKU, it.Quantity }
	return domain.SameLines(a, b, line, line)
}
