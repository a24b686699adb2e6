// Package config reads the settings groups that several processes share (Temporal, the
// services' addresses, logging) from the environment. Each process's main reads its whole
// config once, through these and its own settings, and logs it at start.
package config

import (
	"fmt"

	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/saga"
)

// Temporal says how to reach Temporal and where orders run.
type Temporal struct {
	// Address is the frontend's host:port (TEMPORAL_ADDRESS, default 127.0.0.1:7233).
	Address string
	// Namespace (TEMPORAL_NAMESPACE, default "default").
	Namespace string
	// TaskQueue is the task queue of OrderWorkflow (TEMPORAL_TASK_QUEUE, default "orders").
	TaskQueue string
	// UIURL is the Web UI's base URL, for links (TEMPORAL_UI_URL, default http://localhost:8233).
	UIURL string
	// TLSCert and TLSKey are the paths of a client certificate and key for mTLS
	// (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY); TLS is also used when an API key is set.
	TLSCert, TLSKey string
	// APIKey authenticates to Temporal Cloud (TEMPORAL_API_KEY). A secret.
	APIKey string
}

// String shows the settings with the API key masked.
func (t Temporal) String() string {
	key := ""
	if t.APIKey != "" {
		key = "xxxxx"
	}
	return fmt.Sprintf("{Address:%s Namespace:%s TaskQueue:%s UIURL:%s TLSCert:%s TLSKey:%s APIKey:%s}",
		t.Address, t.Namespace, t.TaskQueue, t.UIURL, t.TLSCert, t.TLSKey, key)
}

// ReadTemporal reads the Temporal settings.
func ReadTemporal(r *env.Reader) Temporal {
	return Temporal{
		Address:   r.String("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		Namespace: r.String("TEMPORAL_NAMESPACE", "default"),
		TaskQueue: r.String("TEMPORAL_TASK_QUEUE", "orders"),
		UIURL:     r.String("TEMPORAL_UI_URL", "http://localhost:8233"),
		TLSCert:   r.String("TEMPORAL_TLS_CERT", ""),
		TLSKey:    r.String("TEMPORAL_TLS_KEY", ""),
		APIKey:    r.String("TEMPORAL_API_KEY", ""),
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
var DefaultPorts = map[string]int{"api": 8080, Order: 8081, Inventory: 8082, Payment: 8083, Shipping: 8084}

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

// ReadPolicy reads the saga policy given to new orders: APPROVAL_THRESHOLD_CENTS
// (100000), APPROVAL_TIMEOUT (24h), COMPENSATION_MAX_ATTEMPTS (10).
func ReadPolicy(r *env.Reader) saga.Policy {
	return saga.Policy{
		ApprovalThresholdCents: r.Int64("APPROVAL_THRESHOLD_CENTS", saga.DefaultApprovalThresholdCents),
		ApprovalTimeout:        saga.Duration(r.Duration("APPROVAL_TIMEOUT", saga.DefaultApprovalTimeout)),
		CompensationAttempts:   int32(r.Int("COMPENSATION_MAX_ATTEMPTS", saga.DefaultCompensationAttempts)),
	}
}
