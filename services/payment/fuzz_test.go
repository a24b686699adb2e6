package payment_test

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
	"github.com/ordersaga/ordersaga/services/payment"
)

// FuzzPaymentHandler drives the payment service's HTTP API (payment.New over a fresh
// SQLite database holding two customers, with fault injection on and reset after every
// request) with a method, a target (path and query after the leading slash), a body and
// its Content-Type. Properties: no panic, no 5xx but the designed 503 of a charge with the
// flaky test card (payment.MethodFlaky), and every 4xx (and that 503) is a problem
// document of the same status.
//
// Run it for longer with: go test -run '^$' -fuzz FuzzPaymentHandler -fuzztime 5m ./services/payment
func FuzzPaymentHandler(f *testing.F) {
	const charge = `{"orderId":"o-1","customerId":"cust-1","amountCents":3800,"currency":"USD","paymentMethod":"pm_card_visa"}`
	for _, s := range []struct {
		method, target, body, contentType string
	}{
		{"POST", "payments", charge, "application/json"},
		{"POST", "payments", charge, "application/json; charset=utf-8"},
		{"POST", "payments", strings.Replace(charge, "o-1", "o-2", 1), "application/json"},
		{"POST", "payments", `{"orderId":"o-3","customerId":"cust-1","amountCents":3800,"currency":"USD","paymentMethod":"pm_card_declined"}`, "application/json"},
		{"POST", "payments", `{"orderId":"o-4","customerId":"cust-1","amountCents":100,"currency":"USD","paymentMethod":"pm_card_flaky"}`, "application/json"},
		{"POST", "payments", `{"orderId":"o-5","customerId":"cust-2","amountCents":9223372036854775807,"currency":"USD","paymentMethod":"pm_card_visa"}`, "application/json"},
		{"POST", "payments", `{"orderId":"o-6","customerId":"cust-1","amountCents":-1,"currency":"usd","paymentMethod":"\u0000"}`, "application/json"},
		{"POST", "payments", `{"orderId":"o-7","customerId":"nobody","amountCents":1,"currency":"USD","paymentMethod":"pm_card_visa"}`, "application/json"},
		{"POST", "payments", `{"amountCents":"3800"}`, "application/json"},
		{"GET", "payments/o-1", "", ""},
		{"POST", "payments/o-1/refund", "", ""},
		{"POST", "payments/o-9/refund", "", ""},
		{"GET", "customers/cust-1", "", ""},
		{"GET", "customers/%F0%9F%9A%80", "", ""},
		{"PUT", "customers/cust-3", `{"balanceCents":1000000000000000}`, "application/json"},
		{"PUT", "customers/cust-3", `{"balanceCents":1000000000000001}`, "application/json"},
		{"PUT", "customers/cust-3", `{"balanceCents":null}`, "application/json"},
		{"PUT", "customers/cust-3", `{"balanceCents":-9223372036854775808}`, "application/json"},
		{"PUT", "admin/faults", `{"errorRate":0.5,"operations":["refund"]}`, "application/json"},
	} {
		f.Add(s.method, s.target, []byte(s.body), s.contentType)
	}

	h, inj, errLog := fuzzService(f, payment.Operations, payment.New)
	for _, c := range []string{"cust-1", "cust-2"} {
		if rec := fuzzServe(h, "PUT", "/customers/"+c, []byte(`{"balanceCents":100000}`), "application/json"); rec.Code >= 300 {
			f.Fatalf("create %s: %d %s", c, rec.Code, rec.Body)
		}
	}
	// A charge with the flaky test card fails its first attempts with a 503 by design.
	flaky := func(method, path string, p problem.Problem) bool {
		return method == http.MethodPost && path == "/payments" && p.Status == http.StatusServiceUnavailable &&
			p.Code == "ServiceUnavailable" && strings.Contains(p.Detail, payment.MethodFlaky)
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte, contentType string) {
		fuzzRequest(t, h, inj, errLog, method, target, body, contentType, flaky)
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
