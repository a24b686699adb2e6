// Package servicetest serves a service for its tests: over a real database (from
// dbtest) and real HTTP on loopback, built by the same constructor the services process
// uses.
package servicetest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/problem"
)

// Build builds a service's HTTP handler over a database: each service's New.
type Build func(ctx context.Context, db *gorm.DB, inj *faults.Injector, log *slog.Logger, opts httpx.Options) (http.Handler, error)

// Open opens the database of cfg and closes it when t ends.
func Open(t testing.TB, cfg database.Config) *gorm.DB {
	t.Helper()
	db, err := database.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	return db
}

// Serve builds a service with no faults over db and serves it until t ends. It returns
// the service's base URL.
func Serve(t testing.TB, db *gorm.DB, operations []string, build Build) string {
	t.Helper()
	inj, err := faults.New(operations, faults.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := build(context.Background(), db, inj, slog.New(slog.DiscardHandler), httpx.Options{})
	if err != nil {
		t.Fatalf("build the service: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Send makes a raw HTTP request (contentType and body may be empty) and returns the
// answer with its body read.
func Send(t testing.TB, method, url, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// DecodeProblem reads the problem an answer carries, and reports an error on t when the
// answer is not application/problem+json.
func DecodeProblem(t testing.TB, resp *http.Response, data []byte) problem.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("content type = %q, want %q", ct, problem.ContentType)
	}
	var p problem.Problem
	if err := json.Unmarshal(data, &p); err != nil {
		t.Errorf("decode problem %q: %v", data, err)
	}
	return p
}
