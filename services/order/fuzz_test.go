package order_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/services/order"
)

// fuzzOrderJSON is a valid create request for order o-1 (2 books and a mug, 3800¢).
const fuzzOrderJSON = `{"orderId":"o-1","customerId":"cust-1","items":[{"sku":"SKU-BOOK","quantity":2,"unitPriceCents":1500},` +
	`{"sku":"SKU-MUG","quantity":1,"unitPriceCents":800}],"totalCents":3800,"currency":"USD","paymentMethod":"pm_card_visa",` +
	`"shippingAddress":{"name":"Ada Lovelace","line1":"1 Main St","city":"Springfield","postalCode":"12345","country":"US"}}`

// FuzzOrderHandler drives the order service's HTTP API (order.New over a fresh SQLite
// database, with fault injection on and reset after every request) with a method, a
// target (path and query after the leading slash), a body and its Content-Type.
// Properties: no panic, no 5xx, and every 4xx is a problem document of the same status.
//
// Run it for longer with: go test -run '^$' -fuzz FuzzOrderHandler -fuzztime 5m ./services/order
func FuzzOrderHandler(f *testing.F) {
	for _, s := range []struct {
		method, target, body, contentType string
	}{
		{"POST", "orders", fuzzOrderJSON, "application/json"},
		{"POST", "orders", strings.Replace(fuzzOrderJSON, `"o-1"`, `"o-2"`, 1), "application/json; charset=utf-8"},
		{"POST", "orders", `{"orderId":"o-3","items":[{"sku":"SKU-BOOK","quantity":9223372036854775807,"unitPriceCents":9223372036854775807}],"totalCents":-1}`, "application/json"},
		{"POST", "orders", `{"orderId":"\u0000","customerId":"ü","currency":"€"}`, "application/json"},
		{"GET", "orders/o-1", "", ""},
		{"GET", "orders?customerId=cust-1&status=PENDING&limit=2", "", ""},
		{"GET", "orders?limit=101&cursor=%ff", "", ""},
		{"GET", "orders?cursor=eyJ0IjoiMjAyNC0wMS0wMVQwMDowMDowMFoiLCJpZCI6Im8tMSJ9", "", ""},
		{"POST", "orders/o-1/confirm", "", ""},
		{"POST", "orders/o-1/cancel", `{"status":"CANCELLED","reason":"changed my mind","failedStep":"reserve","errorType":"OutOfStock"}`, "application/json"},
		{"POST", "orders/o-1/cancel", `{"status":"COMPLETED"}`, "application/json"},
		{"PUT", "orders/o-1/status", `{"status":"RESERVED","version":1,"state":{"orderId":"o-1"}}`, "application/json"},
		{"PUT", "orders/o-1/status", `{"status":"PAID","version":-9223372036854775808,"state":[1]}`, "application/json"},
		{"PUT", "admin/faults", `{"errorRate":1,"latencyMs":100,"down":true,"operations":["create"]}`, "application/json"},
		{"DELETE", "orders/o-1", "", ""},
		{"GET", "healthz", "", ""},
		{"GET", "readyz", "", ""},
	} {
		f.Add(s.method, s.target, []byte(s.body), s.contentType)
	}

	svc := servicetest.NewFuzzed(f, order.Operations, order.New)
	if rec := svc.Serve("POST", "/orders", []byte(fuzzOrderJSON), "application/json"); rec.Code != http.StatusCreated {
		f.Fatalf("create o-1: %d %s", rec.Code, rec.Body)
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte, contentType string) {
		svc.Check(t, method, target, body, contentType, nil)
	})
}
