package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

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

func TestReadTemporalSharesTheCLIsProfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.toml")
	toml := "[profile.prod]\naddress = \"temporal.prod:7233\"\nnamespace = \"ordersaga\"\n"
	if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod"}
	t.Run("the profile the CLI reads is the one the processes use", func(t *testing.T) {
		r := env.New(env.Map(base))
		cfg := ReadTemporal(r)
		if err := r.Err(); err != nil || cfg.Address() != "temporal.prod:7233" || cfg.Namespace() != "ordersaga" {
			t.Errorf("cfg = %s, %v", cfg, err)
		}
	})
	t.Run("a variable overrides the profile", func(t *testing.T) {
		m := map[string]string{"TEMPORAL_ADDRESS": "other:7233"}
		maps.Copy(m, base)
		if cfg := ReadTemporal(env.New(env.Map(m))); cfg.Address() != "other:7233" || cfg.Namespace() != "ordersaga" {
			t.Errorf("cfg = %s", cfg)
		}
	})
	t.Run("a profile that is not in the file is an error", func(t *testing.T) {
		r := env.New(env.Map(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "nope"}))
		ReadTemporal(r)
		if err := r.Err(); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("the earlier TLS variable names still work", func(t *testing.T) {
		cfg := ReadTemporal(env.New(env.Map(map[string]string{"TEMPORAL_TLS_CERT": "/c.pem", "TEMPORAL_TLS_KEY": "/k.pem"})))
		if tls := cfg.Profile.TLS; tls == nil || tls.ClientCertPath != "/c.pem" || tls.ClientKeyPath != "/k.pem" {
			t.Errorf("TLS = %+v", cfg.Profile.TLS)
		}
		if !strings.Contains(cfg.String(), "cert=/c.pem") {
			t.Errorf("logged = %s", cfg)
		}
	})
	t.Run("without any setting, make run's dev server", func(t *testing.T) {
		cfg := ReadTemporal(env.New(env.Map(map[string]string{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml")})))
		if cfg.Address() != "127.0.0.1:7233" || cfg.Namespace() != "default" || cfg.TaskQueue != "orders" {
			t.Errorf("cfg = %s", cfg)
		}
		opts, err := cfg.ClientOptions()
		if err != nil {
			t.Fatal(err)
		}
		if _, none := opts.ConnectionOptions.GrpcCompression.(*client.GrpcCompressionNone); !none {
			t.Errorf("compression = %T, want none", opts.ConnectionOptions.GrpcCompression)
		}
	})
	t.Run("TEMPORAL_GRPC_COMPRESSION=gzip keeps the SDK's gzip", func(t *testing.T) {
		r := env.New(env.Map(map[string]string{"TEMPORAL_GRPC_COMPRESSION": "gzip", "TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml")}))
		cfg := ReadTemporal(r)
		opts, err := cfg.ClientOptions()
		if err != nil || r.Err() != nil {
			t.Fatal(err, r.Err())
		}
		if opts.ConnectionOptions.GrpcCompression != nil || !strings.Contains(cfg.String(), "Compression:gzip") {
			t.Errorf("compression = %T, logged %s; want the SDK's default, gzip", opts.ConnectionOptions.GrpcCompression, cfg)
		}
	})
	t.Run("another compression is an error", func(t *testing.T) {
		r := env.New(env.Map(map[string]string{"TEMPORAL_GRPC_COMPRESSION": "zstd", "TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml")}))
		ReadTemporal(r)
		if err := r.Err(); err == nil || !strings.Contains(err.Error(), "TEMPORAL_GRPC_COMPRESSION") {
			t.Errorf("err = %v", err)
		}
	})
}
