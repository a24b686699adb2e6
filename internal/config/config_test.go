package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/env"
)

func TestReadTemporalMasksTheAPIKey(t *testing.T) {
	r := env.New(env.Map(map[string]string{"TEMPORAL_ADDRESS": "temporal:7233", "TEMPORAL_API_KEY": "secret-key"}))
	cfg := ReadTemporal(r)
	if cfg.Address() != "temporal:7233" || cfg.Namespace() != "default" || cfg.Profile.APIKey != "secret-key" {
		t.Fatalf("cfg = %+v", cfg)
	}
	wrapped := struct{ Temporal Temporal }{cfg}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%+v", wrapped)} {
		if strings.Contains(s, "secret-key") || !strings.Contains(s, "APIKey:xxxxx") {
			t.Errorf("logged config %q shows the key or hides that one is set", s)
		}
	}
}

func TestServiceURLsFollowThePorts(t *testing.T) {
	r := env.New(env.Map(map[string]string{"PAYMENT_PORT": "9083", "SHIPPING_URL": "http://shipping:8084"}))
	urls := ReadServiceURLs(r)
	if urls.Payment != "http://127.0.0.1:9083" || urls.Shipping != "http://shipping:8084" || urls.Order != "http://127.0.0.1:8081" {
		t.Errorf("urls = %+v", urls)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestBadValuesAreReported(t *testing.T) {
	r := env.New(env.Map(map[string]string{"API_PORT": "eighty", "APPROVAL_TIMEOUT": "soon"}))
	Port(r, "api")
	r.Duration("APPROVAL_TIMEOUT", 0)
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), "API_PORT") || !strings.Contains(err.Error(), "APPROVAL_TIMEOUT") {
		t.Errorf("err = %v, want both bad settings named", err)
	}
}
