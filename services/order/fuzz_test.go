package order_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/problem"
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

	h, inj, errLog := fuzzService(f, order.Operations, order.New)
	if rec := fuzzServe(h, "POST", "/orders", []byte(fuzzOrderJSON), "application/json"); rec.Code != http.StatusCreated {
		f.Fatalf("create o-1: %d %s", rec.Code, rec.Body)
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte, contentType string) {
		fuzzRequest(t, h, inj, errLog, method, target, body, contentType, nil)
	})
}

// fuzzService builds the service once for a fuzz target: a fresh SQLite database in the
// target's temporary directory (as dbtest.SQLite does for a test), fault injection on, and
// the service's error log in a buffer.
func fuzzService(f *testing.F, ops []string, build servicetest.Build) (http.Handler, *faults.Injector, *bytes.Buffer) {
	f.Helper()
	db := servicetest.Open(f, database.Config{SQLitePath: filepath.Join(f.TempDir(), "fuzz.db")})
	inj, err := faults.New(ops, faults.Config{})
	if err != nil {
		f.Fatal(err)
	}
	errLog := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(errLog, &slog.HandlerOptions{Level: slog.LevelError}))
	h, err := build(context.Background(), db, inj, log, httpx.Options{})
	if err != nil {
		f.Fatalf("build the service: %v", err)
	}
	return h, inj, errLog
}

// fuzzServe sends one request to h through a recorder.
func fuzzServe(h http.Handler, method, requestURI string, body []byte, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
	req.Method = method
	req.URL, _ = url.ParseRequestURI(requestURI)
	req.RequestURI = requestURI
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// fuzzRequest sends one fuzzed request and holds the answer to the properties: no 5xx
// (but those designed, which allowed5xx accepts when it is not nil), no 1xx or 3xx, and
// every 4xx (and designed 5xx) a problem document of the same status. Requests a server
// would refuse before any handler (a method that is no HTTP token, a target that is no
// request URI) are skipped. Fault injection is reset afterwards, so that a PUT
// /admin/faults of one input cannot fail the next.
func fuzzRequest(t *testing.T, h http.Handler, inj *faults.Injector, errLog *bytes.Buffer,
	method, target string, body []byte, contentType string, allowed5xx func(method, path string, p problem.Problem) bool) {
	t.Helper()
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.ParseRequestURI("/" + target)
	if !isToken(method) || err != nil {
		return
	}
	errLog.Reset()
	defer func() {
		if err := inj.Set(faults.Config{}); err != nil {
			t.Fatalf("reset the faults: %v", err)
		}
	}()
	rec := fuzzServe(h, method, u.RequestURI(), body, contentType)
	if rec.Code < 200 || (rec.Code >= 300 && rec.Code < 400) {
		t.Fatalf("%s %s answered %d: %s", method, u, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	var p problem.Problem
	perr := json.Unmarshal(rec.Body.Bytes(), &p)
	if rec.Code >= 500 && (perr != nil || allowed5xx == nil || !allowed5xx(method, u.Path, p)) {
		t.Fatalf("%s %s answered %d: %s\nerror log: %s", method, u, rec.Code, rec.Body, errLog)
	}
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("%s %s answered %d as %q, want %q: %s", method, u, rec.Code, ct, problem.ContentType, rec.Body)
	}
	if perr != nil {
		t.Fatalf("%s %s answered %d with no problem: %v: %q", method, u, rec.Code, perr, rec.Body)
	}
	if p.Status != rec.Code || p.Code == "" || p.Title == "" {
		t.Fatalf("%s %s answered %d with problem %+v", method, u, rec.Code, p)
	}
}

// isToken reports whether s is an HTTP token (RFC 9110), as a method must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
