package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/outbox"
)

// eventsConfig is the configuration of `starter events`.
type eventsConfig struct {
	NATSURL string
	OrderID string
	Follow  bool
	JSON    bool
}

// readEvents reads the flags and the environment of `starter events`.
func readEvents(args []string, getenv func(string) string, stderr io.Writer) (eventsConfig, error) {
	var cfg eventsConfig
	fs := flag.NewFlagSet("starter events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.OrderID, "order", "", "only this order's events")
	fs.BoolVar(&cfg.Follow, "follow", false, "keep printing new events until interrupted")
	fs.BoolVar(&cfg.JSON, "json", false, "print each event as a JSON line, as it is published")
	if err := fs.Parse(args); err != nil {
		return eventsConfig{}, err
	}
	if fs.NArg() > 0 {
		return eventsConfig{}, fmt.Errorf("events: unexpected argument %q", fs.Arg(0))
	}
	r := env.New(getenv)
	cfg.NATSURL = config.ReadEvents(r).URL()
	return cfg, r.Err()
}

// events is `starter events`: the services' domain events from the start of the stream,
// as a consumer sees them, one line each.
func events(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	cfg, err := readEvents(args, getenv, os.Stderr)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("ordersaga-events"), nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s (NATS_URL): %w", cfg.NATSURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	err = outbox.Consume(ctx, js, cfg.Follow, func(ev outbox.Event) error {
		if cfg.OrderID != "" && ev.OrderID != cfg.OrderID {
			return nil
		}
		return printEvent(out, ev, cfg.JSON)
	})
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		return fmt.Errorf("%s has no JetStream: %w", cfg.NATSURL, err)
	}
	return err
}

func printEvent(out io.Writer, ev outbox.Event, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(out, "%s  %-9s  %-17s  %s  %s\n", ev.OccurredAt.Format("2006-01-02T15:04:05.000Z"),
		ev.Service, ev.Type, ev.OrderID, ev.Body)
	return err
}
