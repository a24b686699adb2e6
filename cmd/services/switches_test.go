package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/database/dbtest"
)

// Fault injection and demo data are off unless asked for: /admin/faults is a 404, the
// catalogue and the customers are empty; switched on, both are there.
func TestProductionSwitches(t *testing.T) {
	get := func(t *testing.T, name string, cfg Config, path string) int {
		t.Helper()
		h, _, closeAll, err := build(context.Background(), ServiceConfig{Name: name, Database: dbtest.SQLite(t)}, cfg, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer closeAll()
		return send(t, h, http.MethodGet, path, "")
	}
	off, on := Config{}, Config{FaultsEnabled: true, SeedDemoData: true}
	for _, tc := range []struct {
		service, path string
		off, on       int
	}{
		{"payment", "/admin/faults", http.StatusNotFound, http.StatusOK},
		{"inventory", "/admin/faults", http.StatusNotFound, http.StatusOK},
		{"payment", "/customers/cust-1", http.StatusNotFound, http.StatusOK},
		{"inventory", "/products/SKU-BOOK", http.StatusNotFound, http.StatusOK},
	} {
		if got := get(t, tc.service, off, tc.path); got != tc.off {
			t.Errorf("switches off: %s GET %s = %d, want %d", tc.service, tc.path, got, tc.off)
		}
		if got := get(t, tc.service, on, tc.path); got != tc.on {
			t.Errorf("switches on: %s GET %s = %d, want %d", tc.service, tc.path, got, tc.on)
		}
	}

	// Fault settings without FAULTS_ENABLED are a mistake worth stopping for.
	env := map[string]string{"DEV_MODE": "true", "PAYMENT_FAULT_ERROR_RATE": "0.5"}
	if _, err := readConfig(nil, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "FAULTS_ENABLED") {
		t.Errorf("fault settings while disabled: err = %v, want a refusal naming FAULTS_ENABLED", err)
	}
	env["FAULTS_ENABLED"] = "true"
	if cfg, err := readConfig(nil, func(k string) string { return env[k] }); err != nil || !cfg.FaultsEnabled {
		t.Errorf("fault settings while enabled: %v", err)
	}
}
