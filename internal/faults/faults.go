// Package faults injects failures into a service's HTTP endpoints, so that retries,
// timeouts and compensations can be exercised on demand: an error rate, added latency and
// a "down" switch, each limited to some write operations if wanted. Operators and tests
// change the settings at run time with PUT /admin/faults and read them with GET.
package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// MaxLatency bounds the configurable latency.
const MaxLatency = 120 * time.Second

// Config is the fault settings of one service.
type Config struct {
	// ErrorRate is the probability, from 0 to 1, that a targeted write answers 503
	// before doing anything.
	ErrorRate float64 `json:"errorRate"`
	// LatencyMs delays every targeted write by this many milliseconds.
	LatencyMs int `json:"latencyMs"`
	// Down makes targeted endpoints answer 503. With no Operations, every endpoint but
	// /healthz and /admin/faults is down, reads included.
	Down bool `json:"down"`
	// Operations limits the faults to these write operations; empty means all of them.
	Operations []string `json:"operations"`
}

// Injector holds a service's current fault settings and applies them to requests. It is
// safe for concurrent use.
type Injector struct {
	ops []string
	off bool

	mu   sync.Mutex
	cfg  Config
	rand *rand.Rand
}

// New returns an Injector for a service whose write operations are ops, starting with cfg.
// It returns an error when cfg is invalid.
func New(ops []string, cfg Config) (*Injector, error) {
	in := &Injector{ops: ops, rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	if err := in.Set(cfg); err != nil {
		return nil, err
	}
	return in, nil
}

// Off returns an Injector switched off, as in production: it injects nothing and serves
// no /admin/faults (404).
func Off() *Injector { return &Injector{off: true} }

// Enabled reports whether fault injection is on.
func (in *Injector) Enabled() bool { return !in.off }

// Config returns the current settings.
func (in *Injector) Config() Config {
	in.mu.Lock()
	defer in.mu.Unlock()
	cfg := in.cfg
	cfg.Operations = slices.Clone(cfg.Operations)
	return cfg
}

// Set replaces the settings. It returns a *validate.Error when cfg is invalid.
func (in *Injector) Set(cfg Config) error {
	var v validate.Validator
	v.Check(cfg.ErrorRate >= 0 && cfg.ErrorRate <= 1, "errorRate", "must be between 0 and 1")
	v.Check(cfg.LatencyMs >= 0 && time.Duration(cfg.LatencyMs)*time.Millisecond <= MaxLatency,
		"latencyMs", fmt.Sprintf("must be between 0 and %d", MaxLatency.Milliseconds()))
	for i, op := range cfg.Operations {
		v.Checkf(slices.Contains(in.ops, op), "must be one of "+strings.Join(in.ops, ", "), "operations[%d]", i)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if cfg.Operations == nil {
		cfg.Operations = []string{}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.cfg = cfg
	in.cfg.Operations = slices.Clone(cfg.Operations)
	return nil
}

// decide returns the delay and the failure, if any, for one request to op ("" for a read).
func (in *Injector) decide(op string) (time.Duration, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	cfg := in.cfg
	targeted := len(cfg.Operations) == 0 || slices.Contains(cfg.Operations, op)
	if op == "" {
		// Reads only fail when the whole service is down.
		if cfg.Down && len(cfg.Operations) == 0 {
			return 0, fmt.Errorf("%w: the service is down (fault injection)", httpx.ErrUnavailable)
		}
		return 0, nil
	}
	if !targeted {
		return 0, nil
	}
	delay := time.Duration(cfg.LatencyMs) * time.Millisecond
	if cfg.Down {
		return delay, fmt.Errorf("%w: %s is down (fault injection)", httpx.ErrUnavailable, op)
	}
	if cfg.ErrorRate > 0 && in.rand.Float64() < cfg.ErrorRate {
		return delay, fmt.Errorf("%w: %s failed (fault injection, error rate %g)", httpx.ErrUnavailable, op, cfg.ErrorRate)
	}
	return delay, nil
}

// Op returns middleware that applies the faults to a route implementing write operation
// op. Latency is waited first (cut short if the client goes away), then the failure, if
// any, is answered before the handler runs.
func (in *Injector) Op(op string) gin.HandlerFunc {
	return func(c *gin.Context) { in.apply(c, op) }
}

// Reads returns middleware for read routes: they fail only when the whole service is down.
func (in *Injector) Reads() gin.HandlerFunc {
	return func(c *gin.Context) { in.apply(c, "") }
}

func (in *Injector) apply(c *gin.Context, op string) {
	if in.off {
		c.Next()
		return
	}
	delay, err := in.decide(op)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.Request.Context().Done():
			t.Stop()
			c.Abort()
			return
		}
	}
	if err != nil {
		c.Header("Retry-After", "1")
		_ = c.Error(err)
		c.Abort()
		return
	}
	c.Next()
}

// Register adds GET and PUT /admin/faults to r, unless the Injector is Off.
func (in *Injector) Register(r gin.IRoutes) {
	if in.off {
		return
	}
	r.GET("/admin/faults", func(c *gin.Context) { c.JSON(http.StatusOK, in.Config()) })
	r.PUT("/admin/faults", func(c *gin.Context) {
		var cfg Config
		if err := httpx.BindJSON(c, &cfg); err != nil {
			_ = c.Error(err)
			return
		}
		if err := in.Set(cfg); err != nil {
			_ = c.Error(err)
			return
		}
		c.JSON(http.StatusOK, in.Config())
	})
}

// Client reads and changes a service's fault settings over HTTP.
type Client struct {
	c *httpx.Client
}

// NewClient returns a Client that talks to the service behind c.
func NewClient(c *httpx.Client) *Client { return &Client{c: c} }

// Get returns the service's current settings.
func (fc *Client) Get(ctx context.Context) (Config, error) {
	var cfg Config
	err := fc.c.Do(ctx, http.MethodGet, "/admin/faults", nil, &cfg)
	return cfg, err
}

// Set replaces the service's settings; Set(ctx, Config{}) clears every fault.
func (fc *Client) Set(ctx context.Context, cfg Config) error {
	return fc.c.Do(ctx, http.MethodPut, "/admin/faults", cfg, nil)
}
