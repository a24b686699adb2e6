package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/problem"
)

// TestServiceWritesNeedAToken is the auth matrix: every POST and PUT route of every
// service (the catalogue's and the customers' upserts and the fault switch included)
// answers 401 without a token and 403 with a wrong one, and gets through with either of
// the two configured tokens (rotation); reads need none.
func TestServiceWritesNeedAToken(t *testing.T) {
	tokens := []string{"current-token", "next-token"}
	for _, svc := range services {
		t.Run(svc.name, func(t *testing.T) {
			sc := ServiceConfig{Name: svc.name, Database: dbtest.SQLite(t)}
			h, _, closeAll, err := build(context.Background(), sc, Config{Auth: config.ServiceAuth{Tokens: tokens}, FaultsEnabled: true},
				nil, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer closeAll()
			engine := h.(*gin.Engine)
			writes := 0
			for _, r := range engine.Routes() {
				path := strings.NewReplacer(":orderId", "ord-auth-1", ":sku", "SKU-AUTH", ":customerId", "cust-auth").Replace(r.Path)
				if r.Method == http.MethodGet {
					if code := send(t, h, r.Method, path, ""); code == http.StatusUnauthorized || code == http.StatusForbidden {
						t.Errorf("GET %s without a token: %d, want reads open", path, code)
					}
					continue
				}
				writes++
				if code := send(t, h, r.Method, path, ""); code != http.StatusUnauthorized {
					t.Errorf("%s %s without a token: %d, want 401", r.Method, path, code)
				}
				if code := send(t, h, r.Method, path, "wrong-token"); code != http.StatusForbidden {
					t.Errorf("%s %s with a wrong token: %d, want 403", r.Method, path, code)
				}
				for _, tok := range tokens {
					if code := send(t, h, r.Method, path, tok); code == http.StatusUnauthorized || code == http.StatusForbidden {
						t.Errorf("%s %s with %s: %d, want it through", r.Method, path, tok, code)
					}
				}
			}
			if writes < 2 {
				t.Errorf("%s has %d write routes; the matrix found too few", svc.name, writes)
			}
		})
	}
}

// send makes a request with an empty JSON body and the bearer token (if any); it checks
// that refusals are problem documents and returns the status.
func send(t *testing.T, h http.Handler, method, path, token string) int {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden {
		var p problem.Problem
		if rec.Header().Get("Content-Type") != problem.ContentType || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code {
			t.Errorf("%s %s: %d %q is not a problem document", method, path, rec.Code, rec.Body)
		}
	}
	return rec.Code
}

// The services refuse to start without tokens, unless in dev mode.
func TestServicesNeedTokensOutsideDevMode(t *testing.T) {
	getenv := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	if _, err := readConfig(nil, getenv(map[string]string{})); err == nil || !strings.Contains(err.Error(), "SERVICE_TOKENS") {
		t.Errorf("no tokens, no dev mode: err = %v, want a refusal naming SERVICE_TOKENS", err)
	}
	if cfg, err := readConfig(nil, getenv(map[string]string{"DEV_MODE": "true"})); err != nil || len(cfg.Auth.Tokens) != 0 {
		t.Errorf("dev mode: %+v, %v; want it to start open", cfg.Auth, err)
	}
	cfg, err := readConfig(nil, getenv(map[string]string{"SERVICE_TOKENS": "a,b"}))
	if err != nil || len(cfg.Auth.Tokens) != 2 || cfg.Auth.Token() != "a" {
		t.Errorf("two tokens: %+v, %v", cfg.Auth, err)
	}
	if s := cfg.Auth.String(); strings.Contains(s, "a,") || strings.Contains(s, `"b"`) || !strings.Contains(s, "2 set") {
		t.Errorf("the tokens show in the start-up log: %s", s)
	}
}
