package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/env"
)

// `starter provision` reads the connection and the retention from the environment, as
// `make run-cluster` does, and refuses a retention that would register a namespace
// keeping nothing; none of it needs a server.
func TestReadProvision(t *testing.T) {
	cfg, err := readProvision(nil, env.Map(map[string]string{
		"TEMPORAL_ADDRESS": "temporal:7233", "TEMPORAL_NAMESPACE": "ordersaga",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Temporal.Address() != "temporal:7233" || cfg.Temporal.Namespace() != "ordersaga" {
		t.Errorf("connection = %s / %s, want temporal:7233 / ordersaga", cfg.Temporal.Address(), cfg.Temporal.Namespace())
	}
	if cfg.Retention != 72*time.Hour || cfg.Wait != 2*time.Minute {
		t.Errorf("retention %s, wait %s: want the defaults 72h and 2m", cfg.Retention, cfg.Wait)
	}

	cfg, err = readProvision([]string{"-wait", "5s"}, env.Map(map[string]string{"TEMPORAL_RETENTION": "168h"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention != 168*time.Hour || cfg.Wait != 5*time.Second {
		t.Errorf("retention %s, wait %s: want 168h and 5s", cfg.Retention, cfg.Wait)
	}

	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"not a duration", nil, map[string]string{"TEMPORAL_RETENTION": "a week"}, "TEMPORAL_RETENTION"},
		{"zero retention", nil, map[string]string{"TEMPORAL_RETENTION": "0s"}, "TEMPORAL_RETENTION"},
		{"an argument", []string{"ordersaga"}, nil, `unexpected argument "ordersaga"`},
		{"an unknown flag", []string{"-retention", "1h"}, nil, "flag provided but not defined"},
	} {
		if _, err := readProvision(tc.args, env.Map(tc.env), io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := readProvision([]string{"-h"}, env.Map(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp (exit 2)", err)
	}
}
