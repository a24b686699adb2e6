package shipping

import (
	"errors"
	"testing"
)

func TestDecideSchedule(t *testing.T) {
	req := ScheduleRequest{OrderID: "o-1", Address: Address{Name: "n", Line1: "l", City: "c", PostalCode: "1", Country: "US"},
		Items: []Item{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 2}}}
	same := Shipment{Status: Scheduled, Address: req.Address, Items: []Item{req.Items[1], req.Items[0]}}
	other := same
	other.Address.City = "elsewhere"
	cases := []struct {
		name     string
		existing Shipment
		err      error
	}{
		{"the same request again is a replay", same, nil},
		{"a cancelled shipment refuses a late schedule", Shipment{Status: Cancelled, Address: req.Address, Items: req.Items}, ErrCompensated},
		{"a voided tombstone refuses a late schedule", Shipment{Status: Voided}, ErrCompensated},
		{"another address is a conflict", other, ErrConflict},
		{"other items are a conflict", Shipment{Status: Scheduled, Address: req.Address, Items: req.Items[:1]}, ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := decideSchedule(tc.existing, req); !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("decideSchedule = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestDecideCancel(t *testing.T) {
	for from, to := range map[Status]Status{Scheduled: Cancelled, Cancelled: Cancelled, Voided: Voided} {
		if got := decideCancel(Shipment{Status: from}); got != to {
			t.Errorf("decideCancel(%s) = %s, want %s", from, got, to)
		}
	}
}

func TestServed(t *testing.T) {
	cases := []struct {
		a    Address
		want bool
	}{
		{Address{Country: "US", PostalCode: "12345"}, true},
		{Address{Country: "KR", PostalCode: "04524"}, true},
		{Address{Country: "XX", PostalCode: "1"}, false},
		{Address{Country: "US", PostalCode: " 00000 "}, false},
	}
	for _, tc := range cases {
		if got := served(tc.a) == ""; got != tc.want {
			t.Errorf("served(%+v) = %q; want served %v", tc.a, served(tc.a), tc.want)
		}
	}
}
