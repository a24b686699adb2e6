package order

import (
	"encoding/json"
	"testing"
)

func TestApplyStatus(t *testing.T) {
	view := json.RawMessage(`{"status":"X"}`)
	at := func(st Status, version int64) Order { return Order{OrderID: "o-1", Status: st, Version: version} }
	cases := []struct {
		name    string
		o       Order
		u       StatusUpdate
		status  Status
		version int64
		changed bool
		reason  string
	}{
		{"a newer intermediate status applies", at(Pending, 0), StatusUpdate{Status: Reserved, Version: 1}, Reserved, 1, true, ""},
		{"a version may skip ahead", at(Reserved, 1), StatusUpdate{Status: ShippingScheduled, Version: 7}, ShippingScheduled, 7, true, ""},
		{"a stale version changes nothing", at(Paid, 3), StatusUpdate{Status: Reserved, Version: 2}, Paid, 3, false, ""},
		{"a repeated version changes nothing", at(Paid, 3), StatusUpdate{Status: Compensating, Version: 3}, Paid, 3, false, ""},
		{"the saga's final REJECTED ends the order with its reason", at(Compensating, 4),
			StatusUpdate{Status: Rejected, Version: 5, Reason: "declined", ErrorType: "PaymentDeclined"}, Rejected, 5, true, "declined"},
		{"a terminal order keeps its status and reason", Order{Status: Cancelled, Reason: "by customer", Version: 5},
			StatusUpdate{Status: Rejected, Version: 6, Reason: "other"}, Cancelled, 6, true, "by customer"},
		{"COMPLETED is never set by a status update", at(ShippingScheduled, 3), StatusUpdate{Status: Completed, Version: 4}, ShippingScheduled, 4, true, ""},
		{"a completed order stays completed", at(Completed, 0), StatusUpdate{Status: Completed, Version: 4}, Completed, 4, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.u.State = view
			got, changed := applyStatus(tc.o, tc.u)
			if got.Status != tc.status || got.Version != tc.version || changed != tc.changed || got.Reason != tc.reason {
				t.Errorf("applyStatus = %s v%d %q changed=%v; want %s v%d %q changed=%v",
					got.Status, got.Version, got.Reason, changed, tc.status, tc.version, tc.reason, tc.changed)
			}
			if changed && string(got.State) != string(view) {
				t.Errorf("state = %s, want the update's view", got.State)
			}
			if !changed && got.State != nil {
				t.Errorf("a stale update recorded its view")
			}
		})
	}
}
