package inventory_test

import (
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/services/inventory"
)

// FuzzInventoryHandler drives the inventory service's HTTP API (inventory.New over a fresh
// SQLite database holding two products, with fault injection on and reset after every
// request) with a method, a target (path and query after the leading slash), a body and
// its Content-Type. Properties: no panic, no 5xx, and every 4xx is a problem document of
// the same status.
//
// Run it for longer with: go test -run '^$' -fuzz FuzzInventoryHandler -fuzztime 5m ./services/inventory
func FuzzInventoryHandler(f *testing.F) {
	const reserve = `{"orderId":"o-1","items":[{"sku":"SKU-BOOK","quantity":2},{"sku":"SKU-MUG","quantity":1}]}`
	for _, s := range []struct {
		method, target, body, contentType string
	}{
		{"GET", "products", "", ""},
		{"GET", "products/SKU-BOOK", "", ""},
		{"GET", "products/SKU-%00", "", ""},
		{"PUT", "products/SKU-NEW", `{"name":"New","priceCents":100,"available":5}`, "application/json"},
		{"PUT", "products/SKU-BOOK", `{"available":2147483648}`, "application/json"},
		{"PUT", "products/SKU-BOOK", `{"priceCents":-1,"available":-1,"name":"\u0000"}`, "application/json"},
		{"PUT", "products/SKU-X", `{"priceCents":1e400}`, "application/json"},
		{"PUT", "products/SKU-BOOK", `{}`, "application/json"},
		{"POST", "quotes", `{"items":[{"sku":"SKU-BOOK","quantity":2},{"sku":"SKU-BOOK","quantity":3}]}`, "application/json"},
		{"POST", "quotes", `{"items":[{"sku":"SKU-BOOK","quantity":9223372036854775807}]}`, "application/json"},
		{"POST", "quotes", `{"items":[{"sku":"SKU-NOPE","quantity":1}]}`, "application/json"},
		{"POST", "quotes", `{"items":null}`, "application/json"},
		{"POST", "reservations", reserve, "application/json"},
		{"POST", "reservations", reserve, "application/json; charset=utf-8"},
		{"POST", "reservations", `{"orderId":"o-2","items":[{"sku":"SKU-MUG","quantity":10000}]}`, "application/json"},
		{"POST", "reservations", `{"orderId":"o-3","items":[{"sku":"SKU-MUG","quantity":-1}]}`, "text/plain"},
		{"GET", "reservations/o-1", "", ""},
		{"POST", "reservations/o-1/release", "", ""},
		{"POST", "reservations/o-9/release", "", ""},
		{"PUT", "admin/faults", `{"down":true}`, "application/json"},
		{"PATCH", "products/SKU-BOOK", `{"available":1}`, "application/json"},
	} {
		f.Add(s.method, s.target, []byte(s.body), s.contentType)
	}

	svc := servicetest.NewFuzzed(f, inventory.Operations, inventory.New)
	for _, p := range []string{`SKU-BOOK {"name":"Book","priceCents":1500,"available":100}`, `SKU-MUG {"name":"Mug","priceCents":800,"available":50}`} {
		sku, body, _ := strings.Cut(p, " ")
		if rec := svc.Serve("PUT", "/products/"+sku, []byte(body), "application/json"); rec.Code >= 300 {
			f.Fatalf("create %s: %d %s", sku, rec.Code, rec.Body)
		}
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte, contentType string) {
		svc.Check(t, method, target, body, contentType, nil)
	})
}
