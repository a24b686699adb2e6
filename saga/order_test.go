package saga_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ordersaga/ordersaga/saga"
)

var order = saga.Order{
	OrderID: "ord-1", CustomerID: "cust-1", TotalCents: 3500, Currency: "USD", PaymentMethod: "pm_card_visa",
	Items: []saga.Item{{SKU: "SKU-BOOK", Quantity: 2, UnitPriceCents: 1500}, {SKU: "SKU-PEN", Quantity: 1, UnitPriceCents: 500}},
	ShippingAddress: saga.Address{Name: "Ada Lovelace", Line1: "12 Analytical Row", City: "Springfield",
		PostalCode: "12345", Country: "US"},
}

// convert marshals from and unmarshals the JSON into to, as a worker of another build
// reads an activity task's input.
func convert(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}

// An activity task scheduled by an earlier build carries the whole order: this build's
// activities read from it what they read from their own inputs.
func TestStepInputsReadFromTheWholeOrder(t *testing.T) {
	var reserve saga.ReserveInput
	convert(t, order, &reserve)
	if want := order.Reserve(); !reflect.DeepEqual(reserve, want) {
		t.Errorf("ReserveInput from an Order = %+v, want %+v", reserve, want)
	}
	var charge saga.ChargeInput
	convert(t, order, &charge)
	if want := order.Charge(); charge != want {
		t.Errorf("ChargeInput from an Order = %+v, want %+v", charge, want)
	}
	var ship saga.ShipInput
	convert(t, order, &ship)
	if want := order.Ship(); !reflect.DeepEqual(ship, want) {
		t.Errorf("ShipInput from an Order = %+v, want %+v", ship, want)
	}
}

// An activity task scheduled by this build, run by an earlier build's activity (which
// takes the whole Order), gives that activity every field it reads.
func TestEarlierBuildsReadTheStepInputs(t *testing.T) {
	lines := []saga.Item{{SKU: "SKU-BOOK", Quantity: 2}, {SKU: "SKU-PEN", Quantity: 1}}

	var fromReserve saga.Order
	convert(t, order.Reserve(), &fromReserve)
	if fromReserve.OrderID != order.OrderID || !reflect.DeepEqual(fromReserve.Items, lines) {
		t.Errorf("Order from a ReserveInput = %+v: ReserveInventory reads the ID and the SKUs and quantities", fromReserve)
	}
	var fromCharge saga.Order
	convert(t, order.Charge(), &fromCharge)
	if fromCharge.OrderID != order.OrderID || fromCharge.CustomerID != order.CustomerID ||
		fromCharge.TotalCents != order.TotalCents || fromCharge.Currency != order.Currency ||
		fromCharge.PaymentMethod != order.PaymentMethod {
		t.Errorf("Order from a ChargeInput = %+v: ChargePayment reads who pays how much with what", fromCharge)
	}
	var fromShip saga.Order
	convert(t, order.Ship(), &fromShip)
	if fromShip.OrderID != order.OrderID || !reflect.DeepEqual(fromShip.Items, lines) ||
		fromShip.ShippingAddress != order.ShippingAddress {
		t.Errorf("Order from a ShipInput = %+v: ScheduleShipping reads the ID, lines and address", fromShip)
	}
}
