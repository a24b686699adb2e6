package inventory

import (
	"errors"
	"testing"
)

func TestDecideReserve(t *testing.T) {
	items := []Item{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 2}}
	cases := []struct {
		name     string
		existing Reservation
		err      error
	}{
		{"the same items again are a replay, in any order", Reservation{Status: Reserved, Items: []Item{items[1], items[0]}}, nil},
		{"a released reservation refuses a late reserve", Reservation{Status: Released, Items: items}, ErrCompensated},
		{"a voided tombstone refuses a late reserve", Reservation{Status: Voided}, ErrCompensated},
		{"other quantities are a conflict", Reservation{Status: Reserved, Items: []Item{{SKU: "A", Quantity: 2}, {SKU: "B", Quantity: 1}}}, ErrConflict},
		{"fewer items are a conflict", Reservation{Status: Reserved, Items: items[:1]}, ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := decideReserve(tc.existing, items); !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("decideReserve = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestDecideRelease(t *testing.T) {
	for _, tc := range []struct {
		from    ReservationStatus
		to      ReservationStatus
		restock bool
	}{{Reserved, Released, true}, {Released, Released, false}, {Voided, Voided, false}} {
		t.Run(string(tc.from), func(t *testing.T) {
			if to, restock := decideRelease(Reservation{Status: tc.from}); to != tc.to || restock != tc.restock {
				t.Errorf("decideRelease(%s) = %s, %v; want %s, %v", tc.from, to, restock, tc.to, tc.restock)
			}
		})
	}
}

func TestBySKU(t *testing.T) {
	in := []Item{{SKU: "C"}, {SKU: "A"}, {SKU: "B"}}
	got := bySKU(in)
	if got[0].SKU != "A" || got[1].SKU != "B" || got[2].SKU != "C" || in[0].SKU != "C" {
		t.Errorf("bySKU(%v) = %v; want sorted, the input untouched", in, got)
	}
}
