// Package temporalx connects processes to Temporal: a dial that waits for the server to
// come up, and the check that the namespace has the search attributes orders use.
package temporalx

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/ordersaga/ordersaga/internal/config"
)

// Option adjusts the client's options before dialling (telemetry's ConfigureTemporal
// adds metrics and tracing).
type Option func(*client.Options) error

// Dial connects to Temporal, retrying for up to wait while the server starts. The client
// logs through logger.
func Dial(ctx context.Context, cfg config.Temporal, logger *slog.Logger, wait time.Duration, options ...Option) (client.Client, error) {
	opts, err := cfg.ClientOptions()
	if err != nil {
		return nil, fmt.Errorf("the Temporal client's options: %w", err)
	}
	opts.Logger = log.NewStructuredLogger(logger)
	for _, o := range options {
		if err := o(&opts); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(wait)
	delay := 100 * time.Millisecond
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("connect to Temporal at %s: %w", cfg.Address(), err)
		}
		logger.Info("waiting for Temporal", "address", cfg.Address(), "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// SearchAttribute is a custom search attribute of orders' workflows.
type SearchAttribute struct {
	Name string
	Type enumspb.IndexedValueType
	// TypeName is the type as the temporal CLI spells it.
	TypeName string
}

// SearchAttributes are the custom search attributes an order's workflow sets.
var SearchAttributes = []SearchAttribute{
	{"OrderStatus", enumspb.INDEXED_VALUE_TYPE_KEYWORD, "Keyword"},
	{"CustomerId", enumspb.INDEXED_VALUE_TYPE_KEYWORD, "Keyword"},
	{"OrderTotalCents", enumspb.INDEXED_VALUE_TYPE_INT, "Int"},
}

// CheckSearchAttributes returns an error naming the missing search attributes when the
// namespace lacks any of SearchAttributes: without them every order's workflow task would
// fail, so processes refuse to start instead.
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	var missing []string
	for _, sa := range SearchAttributes {
		if got, ok := resp.GetCustomAttributes()[sa.Name]; !ok || got != sa.Type {
			missing = append(missing, sa.Name+"="+sa.TypeName)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("namespace %q lacks search attributes %v: register them with "+
			"`temporal operator search-attribute create --name <name> --type <type>` (see RUNBOOK.md)", namespace, missing)
	}
	return nil
}

// Connect is how the worker and the API reach Temporal: Dial, waiting up to a minute for
// the server, then CheckSearchAttributes, so that a namespace without them stops the
// process at start rather than every order later.
func Connect(ctx context.Context, cfg config.Temporal, logger *slog.Logger, options ...Option) (client.Client, error) {
	c, err := Dial(ctx, cfg, logger, time.Minute, options...)
	if err != nil {
		return nil, err
	}
	if err := CheckSearchAttributes(ctx, c, cfg.Namespace()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
