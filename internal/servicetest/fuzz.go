package servicetest

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
)

// Fuzzed is a service built once for a fuzz target: over a fresh SQLite database in the
// target's temporary directory (as dbtest.SQLite does for a test), with fault injection
// on and the service's error log in a buffer. Each service's fuzz target drives it.
type Fuzzed struct {
	Handler http.Handler
	faults  *faults.Injector
	errLog  *bytes.Buffer
}

// NewFuzzed builds the service with build (its New), whose write operations are ops.
func NewFuzzed(f *testing.F, ops []string, build Build) *Fuzzed {
	f.Helper()
	db := Open(f, database.Config{SQLitePath: filepath.Join(f.TempDir(), "fuzz.db")})
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
	return &Fuzzed{Handler: h, faults: inj, errLog: errLog}
}

// Serve sends one request to the service through a recorder.
func (s *Fuzzed) Serve(method, requestURI string, body []byte, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
	req.Method = method
	req.URL, _ = url.ParseRequestURI(requestURI)
	req.RequestURI = requestURI
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	s.Handler.ServeHTTP(rec, req)
	return rec
}

// Check sends one fuzzed request and holds the answer to the properties: no 5xx (but
// those designed, which allowed5xx accepts when it is not nil), no 1xx or 3xx, and every
// 4xx (and designed 5xx) a problem document of the same status. Requests a server would
// refuse before any handler (a method that is no HTTP token, a target that is no request
// URI) are skipped. Fault injection is reset afterwards, so that a PUT /admin/faults of
// one input cannot fail the next.
func (s *Fuzzed) Check(t *testing.T, method, target string, body []byte, contentType string,
	allowed5xx func(method, path string, p problem.Problem) bool) {
	t.Helper()
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.ParseRequestURI("/" + target)
	if !isToken(method) || err != nil {
		return
	}
	s.errLog.Reset()
	defer func() {
		if err := s.faults.Set(faults.Config{}); err != nil {
			t.Fatalf("reset the faults: %v", err)
		}
	}()
	rec := s.Serve(method, u.RequestURI(), body, contentType)
	if rec.Code < 200 || (rec.Code >= 300 && rec.Code < 400) {
		t.Fatalf("%s %s answered %d: %s", method, u, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	var p problem.Problem
	perr := json.Unmarshal(rec.Body.Bytes(), &p)
	if rec.Code >= 500 && (perr != nil || allowed5xx == nil || !allowed5xx(method, u.Path, p)) {
		t.Fatalf("%s %s answered %d: %s\nerror log: %s", method, u, rec.Code, rec.Body, s.errLog)
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
