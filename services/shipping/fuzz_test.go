package shipping_test

import (
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// FuzzShippingHandler drives the shipping service's HTTP API (shipping.New over a fresh
// SQLite database, with fault injection on and reset after every request) with a method,
// a target (path and query after the leading slash), a body and its Content-Type.
// Properties: no panic, no 5xx, and every 4xx is a problem document of the same status.
//
// Run it for longer with: go test -run '^$' -fuzz FuzzShippingHandler -fuzztime 5m ./services/shipping
func FuzzShippingHandler(f *testing.F) {
	const schedule = `{"orderId":"o-1","address":{"name":"Ada Lovelace","line1":"1 Main St","city":"Springfield",` +
		`"postalCode":"12345","country":"US"},"items":[{"sku":"SKU-BOOK","quantity":2}]}`
	for _, s := range []struct {
		method, target, body, contentType string
	}{
		{"POST", "shipments", schedule, "application/json"},
		{"POST", "shipments", schedule, "application/json; charset=utf-8"},
		{"POST", "shipments", strings.Replace(schedule, `"US"`, `"ZZ"`, 1), "application/json"},
		{"POST", "shipments", strings.Replace(schedule, `"o-1"`, `"o-2"`, 1), "application/json"},
		{"POST", "shipments", `{"orderId":"o-3","address":{"name":"\u0000","country":"us"},"items":[{"sku":"","quantity":9223372036854775807}]}`, "application/json"},
		{"POST", "shipments", `{"orderId":"o-4","address":{},"items":[]}`, "application/json"},
		{"POST", "shipments", `{"orderId":["o-5"]}`, "application/json"},
		{"POST", "shipments", schedule + schedule, "application/json"},
		{"GET", "shipments/o-1", "", ""},
		{"GET", "shipments/o-1%2Fcancel", "", ""},
		{"POST", "shipments/o-1/cancel", "", ""},
		{"POST", "shipments/o-9/cancel", "", ""},
		{"POST", "shipments/o-1/cancel", `{"reason":"x"}`, "application/json"},
		{"PUT", "admin/faults", `{"latencyMs":120001,"operations":["ship"]}`, "application/json"},
		{"GET", "admin/faults", "", ""},
	} {
		f.Add(s.method, s.target, []byte(s.body), s.contentType)
	}

	svc := servicetest.NewFuzzed(f, shipping.Operations, shipping.New)
	f.Fuzz(func(t *testing.T, method, target string, body []byte, contentType string) {
		svc.Check(t, method, target, body, contentType, nil)
	})
}
