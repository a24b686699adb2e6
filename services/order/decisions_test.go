package order

import (
	"encoding/json"
	"errors"
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

func TestDecideCreate(t *testing.T) {
	req := CreateRequest{OrderID: "o-1", CustomerID: "c-1", Items: []Item{{SKU: "A", Quantity: 1, UnitPriceCents: 100}, {SKU: "B", Quantity: 2, UnitPriceCents: 50}},
		TotalCents: 200, Currency: "USD", PaymentMethod: "pm", ShippingAddress: Address{Name: "n", Line1: "l", City: "c", PostalCode: "p", Country: "US"}}
	stored := func(st Status, mod ...func(*Order)) Order {
		o := Order{OrderID: "o-1", CustomerID: "c-1", Items: []Item{req.Items[1], req.Items[0]}, TotalCents: 200, Currency: "USD",
			PaymentMethod: "pm", ShippingAddress: req.ShippingAddress, Status: st}
		for _, m := range mod {
			m(&o)
		}
		return o
	}
	cases := []struct {
		name string
		o    Order
		err  error
	}{
		{"the same body again is a replay, items in any order", stored(Paid), nil},
		{"a replay of a completed order answers it", stored(Completed), nil},
		{"a cancelled order refuses", stored(Cancelled), ErrCompensated},
		{"a rejected tombstone refuses", Order{OrderID: "o-1", Status: Rejected, Tombstone: true}, ErrCompensated},
		{"another customer is a conflict", stored(Pending, func(o *Order) { o.CustomerID = "c-2" }), ErrConflict},
		{"another quantity is a conflict", stored(Pending, func(o *Order) { o.Items = []Item{{SKU: "A", Quantity: 2, UnitPriceCents: 100}} }), ErrConflict},
		{"another address is a conflict", stored(Pending, func(o *Order) { o.ShippingAddress.City = "x" }), ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := decideCreate(tc.o, req); !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("decideCreate = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestDecideConfirmAndCancel(t *testing.T) {
	cancel := CancelRequest{Status: Rejected, Reason: "declined", FailedStep: "ChargePayment", ErrorType: "PaymentDeclined"}
	cases := []struct {
		from          Status
		confirm       Status
		confirmErr    error
		cancel        Status
		cancelErr     error
		cancelChanges bool
	}{
		{Pending, Completed, nil, Rejected, nil, true},
		{ShippingScheduled, Completed, nil, Rejected, nil, true},
		{NeedsAttention, Completed, nil, Rejected, nil, true},
		{Completed, Completed, nil, Completed, ErrCompleted, false},
		{Cancelled, Cancelled, ErrCompensated, Cancelled, nil, false},
		{Rejected, Rejected, ErrCompensated, Rejected, nil, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.from), func(t *testing.T) {
			o := Order{OrderID: "o-1", Status: tc.from, Reason: "first"}
			got, changed, err := decideConfirm(o)
			if got.Status != tc.confirm || !errors.Is(err, tc.confirmErr) || (tc.confirmErr == nil) != (err == nil) ||
				changed != (tc.from != Completed && tc.confirmErr == nil) {
				t.Errorf("decideConfirm(%s) = %s, %v, %v; want %s, %v", tc.from, got.Status, changed, err, tc.confirm, tc.confirmErr)
			}
			got, changed, err = decideCancel(o, cancel)
			if got.Status != tc.cancel || changed != tc.cancelChanges || !errors.Is(err, tc.cancelErr) || (tc.cancelErr == nil) != (err == nil) {
				t.Errorf("decideCancel(%s) = %s, %v, %v; want %s, %v, %v", tc.from, got.Status, changed, err, tc.cancel, tc.cancelChanges, tc.cancelErr)
			}
			if changed && (got.Reason != "declined" || got.ErrorType != "PaymentDeclined") {
				t.Errorf("a cancel that applied kept %q %q", got.Reason, got.ErrorType)
			}
			if !changed && got.Reason != "first" {
				t.Errorf("a cancel that did not apply changed the reason to %q", got.Reason)
			}
		})
	}
}
