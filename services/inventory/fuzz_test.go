package inventory_test

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

	h, inj, errLog := fuzzService(f, inventory.Operations, inventory.New)
	for _, p := range []string{`SKU-BOOK {"name":"Book","priceCents":1500,"available":100}`, `SKU-MUG {"name":"Mug","priceCents":800,"available":50}`} {
		sku, body, _ := strings.Cut(p, " ")
		if rec := fuzzServe(h, "PUT", "/products/"+sku, []byte(body), "application/json"); rec.Code >= 300 {
			f.Fatalf("create %s: %d %s", sku, rec.Code, rec.Body)
		}
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
