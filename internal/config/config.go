// Package config reads the settings groups that several processes share (Temporal, the
// services' addresses, logging) from the environment. It knows nothing of the domain: a
// process's main turns these settings into the domain's types. Each process's main reads its whole
// config once, through these and its own settings, and logs it at start.
package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ordersaga/ordersaga/internal/codec"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/internal/telemetry"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Temporal says how to reach Temporal and where orders run.
//
// The connection comes from the SDK's environment configuration (envconfig), the same
// variables and profile file the temporal CLI reads: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH,
// TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS and the others, and TEMPORAL_PROFILE in
// TEMPORAL_CONFIG_FILE (default ~/.config/temporalio/temporal.toml), so that the worker,
// the API and the CLI of RUNBOOK.md share one connection profile. TEMPORAL_TLS_CERT and
// TEMPORAL_TLS_KEY, this project's earlier names, still work for one release.
type Temporal struct {
	// Profile is the connection: address, namespace, TLS, API key.
	Profile envconfig.ClientConfigProfile
	// TaskQueue is the task queue of OrderWorkflow (TEMPORAL_TASK_QUEUE, default "orders").
	TaskQueue string
	// UIURL is the Web UI's base URL, for links (TEMPORAL_UI_URL, default http://localhost:8233).
	UIURL string
	// Compression is how requests to Temporal are compressed (TEMPORAL_GRPC_COMPRESSION):
	// "none", the default, or "gzip", the SDK's own default. Gzip costs the client and the
	// server CPU on every call (about a tenth of the worker's CPU at load, measured in
	// BENCHMARKS.md) and saves nothing on a host or a LAN; the payloads orders store are
	// sealed, so they barely shrink. Choose gzip for a slow link to a distant Temporal.
	Compression string
}

// Compression values of TEMPORAL_GRPC_COMPRESSION.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
)

// LocalTemporal is the Temporal of a dev server at address, in namespace "default".
func LocalTemporal(address string) Temporal {
	return Temporal{Profile: envconfig.ClientConfigProfile{Address: address, Namespace: "default"}, TaskQueue: "orders"}
}

// Address returns the frontend's host:port.
func (t Temporal) Address() string { return t.Profile.Address }

// Namespace returns the namespace.
func (t Temporal) Namespace() string { return t.Profile.Namespace }

// ClientOptions returns the SDK client's options for the profile.
func (t Temporal) ClientOptions() (client.Options, error) {
	opts, err := t.Profile.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return opts, err
	}
	if t.Compression != CompressionGzip {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	return opts, nil
}

// String shows the settings with the API key masked.
func (t Temporal) String() string {
	key, tls := "", "off"
	if t.Profile.APIKey != "" {
		key, tls = "xxxxx", "on"
	}
	if c := t.Profile.TLS; c != nil {
		tls = "on"
		if c.Disabled {
			tls = "off"
		}
		if c.ClientCertPath != "" {
			tls += " cert=" + c.ClientCertPath
		}
	}
	return fmt.Sprintf("{Address:%s Namespace:%s TaskQueue:%s UIURL:%s TLS:%s APIKey:%s Compression:%s}",
		t.Profile.Address, t.Profile.Namespace, t.TaskQueue, t.UIURL, tls, key, t.compression())
}

func (t Temporal) compression() string {
	if t.Compression == CompressionGzip {
		return CompressionGzip
	}
	return CompressionNone
}

// aliases maps this project's earlier variable names to envconfig's.
var aliases = map[string]string{
	"TEMPORAL_TLS_CLIENT_CERT_PATH": "TEMPORAL_TLS_CERT",
	"TEMPORAL_TLS_CLIENT_KEY_PATH":  "TEMPORAL_TLS_KEY",
}

// envLookup adapts a getenv to envconfig, with the aliases.
type envLookup func(string) string

func (e envLookup) LookupEnv(key string) (string, bool) {
	if v := strings.TrimSpace(e(key)); v != "" {
		return v, true
	}
	if old, ok := aliases[key]; ok {
		if v := strings.TrimSpace(e(old)); v != "" {
			return v, true
		}
	}
	return "", false
}

// Environ is only used for TEMPORAL_GRPC_META_* headers, which this project does not read.
func (envLookup) Environ() []string { return nil }

// ReadTemporal reads the Temporal settings. A profile file that cannot be read, or names
// no such profile, is an error reported by r.Err.
func ReadTemporal(r *env.Reader) Temporal {
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{EnvLookup: envLookup(r.Getenv)})
	if err != nil {
		r.Fail(fmt.Errorf("the Temporal connection profile: %w", err))
	}
	if prof.Address == "" {
		prof.Address = "127.0.0.1:7233"
	}
	if prof.Namespace == "" {
		prof.Namespace = "default"
	}
	compression := r.String("TEMPORAL_GRPC_COMPRESSION", CompressionNone)
	if compression != CompressionNone && compression != CompressionGzip {
		r.Fail(fmt.Errorf("TEMPORAL_GRPC_COMPRESSION=%q: want %q or %q", compression, CompressionNone, CompressionGzip))
	}
	return Temporal{
		Profile:     prof,
		TaskQueue:   r.String("TEMPORAL_TASK_QUEUE", "orders"),
		UIURL:       r.String("TEMPORAL_UI_URL", "http://localhost:8233"),
		Compression: compression,
	}
}

// Service names, in the order of their default ports.
const (
	Order     = "order"
	Inventory = "inventory"
	Payment   = "payment"
	Shipping  = "shipping"
)

// ServiceNames lists the four services.
var ServiceNames = []string{Order, Inventory, Payment, Shipping}

// DefaultPorts are the dev ports of the processes.
var DefaultPorts = map[string]int{"api": 8080, Order: 8081, Inventory: 8082, Payment: 8083, Shipping: 8084, "worker": 8085}

// Port reads <NAME>_PORT for a process (e.g. INVENTORY_PORT), defaulting to DefaultPorts.
func Port(r *env.Reader, name string) int {
	return r.Int(EnvName(name, "PORT"), DefaultPorts[name])
}

// ServiceURLs are the base URLs the worker and the API call the services at.
type ServiceURLs struct {
	Order, Inventory, Payment, Shipping string
}

// ReadServiceURLs reads <NAME>_URL for each service, defaulting to
// http://127.0.0.1:<NAME>_PORT.
func ReadServiceURLs(r *env.Reader) ServiceURLs {
	url := func(name string) string {
		return r.String(EnvName(name, "URL"), fmt.Sprintf("http://127.0.0.1:%d", Port(r, name)))
	}
	return ServiceURLs{Order: url(Order), Inventory: url(Inventory), Payment: url(Payment), Shipping: url(Shipping)}
}

// ReadLogging reads LOG_FORMAT (text or json) and LOG_LEVEL (default info).
func ReadLogging(r *env.Reader) logging.Config {
	return logging.Config{Format: r.String("LOG_FORMAT", "text"), Level: r.String("LOG_LEVEL", "info")}
}

// ServiceAuth is how the services' write endpoints are protected.
type ServiceAuth struct {
	// Tokens are SERVICE_TOKENS: the bearer tokens the services accept on every POST and
	// PUT. Callers send the first; list a new one second on the services, then first
	// everywhere, then drop the old one, to rotate without downtime.
	Tokens []string
	// DevMode (DEV_MODE=true) lets the services start without tokens, their writes open
	// to anyone who can reach them: for a laptop, never for a deployment.
	DevMode bool
}

// String masks the tokens.
func (a ServiceAuth) String() string {
	return fmt.Sprintf("{Tokens:%d set DevMode:%v}", len(a.Tokens), a.DevMode)
}

// Token is the token a caller sends, or "".
func (a ServiceAuth) Token() string {
	if len(a.Tokens) == 0 {
		return ""
	}
	return a.Tokens[0]
}

// ReadServiceAuth reads SERVICE_TOKENS and DEV_MODE.
func ReadServiceAuth(r *env.Reader) ServiceAuth {
	return ServiceAuth{Tokens: r.List("SERVICE_TOKENS", nil), DevMode: r.Bool("DEV_MODE", false)}
}

// Encryption is how what orders store in Temporal is sealed: PAYLOAD_KEYS,
// "id:base64key,id:base64key", the first sealing new payloads and every one opening what
// it sealed (rotate by listing a new key first and keeping the old ones after it).
type Encryption struct {
	// Codec seals and opens payloads; nil leaves them in plaintext (DEV_MODE only).
	Codec *codec.Codec
}

// String names the keys, never their secrets.
func (e Encryption) String() string {
	if e.Codec == nil {
		return "{PAYLOAD_KEYS:none (payloads in plaintext)}"
	}
	return fmt.Sprintf("{PAYLOAD_KEYS:%v sealing:%s}", e.Codec.KeyIDs(), e.Codec.ActiveKeyID())
}

// DataConverter is the SDK's default converter with payloads sealed by the codec, or nil
// (the SDK's default) without one.
func (e Encryption) DataConverter() converter.DataConverter {
	if e.Codec == nil {
		return nil
	}
	return e.Codec.DataConverter()
}

// ConfigureTemporal makes a Temporal client (and the workers built on it) seal what it
// writes with the codec: payloads through the data converter, and failures' messages and
// stack traces too (they may quote order data), which Temporal otherwise keeps in
// plaintext. Without a codec it changes nothing. It is a temporalx.Option.
func (e Encryption) ConfigureTemporal(o *client.Options) error {
	if e.Codec == nil {
		return nil
	}
	o.DataConverter = e.Codec.DataConverter()
	o.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          o.DataConverter,
		EncodeCommonAttributes: true,
	})
	return nil
}

// ReadEncryption reads PAYLOAD_KEYS. Without keys, payloads would sit in Temporal in
// plaintext: that is refused unless devMode (DEV_MODE=true) allows it.
func ReadEncryption(r *env.Reader, devMode bool) Encryption {
	c, err := codec.Parse(r.String("PAYLOAD_KEYS", ""))
	switch {
	case err != nil:
		r.Fail(fmt.Errorf("PAYLOAD_KEYS: %w", err))
	case c == nil && !devMode:
		r.Fail(errors.New("PAYLOAD_KEYS is not set: order data would be stored in Temporal in plaintext " +
			"(set it, e.g. PAYLOAD_KEYS=k1:$(openssl rand -base64 32), or DEV_MODE=true on a laptop)"))
	}
	return Encryption{Codec: c}
}

// ReadTelemetry reads OTEL_EXPORTER_OTLP_ENDPOINT: set, traces are exported over
// OTLP/HTTP to it (the exporter reads the other OTEL_EXPORTER_OTLP_* variables itself).
func ReadTelemetry(r *env.Reader) telemetry.Config {
	return telemetry.Config{OTLPEndpoint: r.String(telemetry.EnvOTLPEndpoint, "")}
}

// EnvName returns the environment variable holding setting suffix for a process:
// EnvName("inventory", "DATABASE_URL") is "INVENTORY_DATABASE_URL".
func EnvName(name, suffix string) string {
	b := []byte(name + "_" + suffix)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// LocalStackEnv is what the one-machine stacks (`make run`, `make run-cluster`) add to
// their parts' environment beyond the production defaults: DEV_MODE when no service
// tokens are set (on a laptop the services may run open; anywhere else SERVICE_TOKENS is
// required), and the demo (its catalogue and customers, and fault injection to play
// with), unless getenv sets FAULTS_ENABLED or SEED_DEMO_DATA otherwise.
func LocalStackEnv(getenv func(string) string, serviceTokens string) []string {
	var kvs []string
	if serviceTokens == "" {
		kvs = append(kvs, "DEV_MODE=true")
	}
	for _, kv := range []string{"FAULTS_ENABLED=true", "SEED_DEMO_DATA=true"} {
		if name, _, _ := strings.Cut(kv, "="); getenv(name) == "" {
			kvs = append(kvs, kv)
		}
	}
	return kvs
}

// DefaultNATSPort is the embedded NATS server's port: one above NATS's standard 4222, so
// that it runs beside a NATS already there.
const DefaultNATSPort = 4223

// Events says where the services' domain events go: to the NATS server NATS_URL, or,
// without it, to the embedded one (with JetStream) that the process running the services
// starts on NATS_PORT (4223).
type Events struct {
	NATSURL      string
	EmbeddedPort int
}

// Embedded reports whether the events go to an embedded NATS server.
func (e Events) Embedded() bool { return e.NATSURL == "" }

// URL is the NATS server's address for clients: NATS_URL, or the embedded server's.
func (e Events) URL() string {
	if e.NATSURL != "" {
		return e.NATSURL
	}
	return fmt.Sprintf("nats://127.0.0.1:%d", e.EmbeddedPort)
}

// ReadEvents reads NATS_URL and NATS_PORT.
func ReadEvents(r *env.Reader) Events {
	return Events{NATSURL: r.String("NATS_URL", ""), EmbeddedPort: r.Int("NATS_PORT", DefaultNATSPort)}
}
