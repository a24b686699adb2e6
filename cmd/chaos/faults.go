package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
)

// fault is one failure of the schedule: injected at At (from the start of the load),
// lifted For later (or at once, for a kill followed by a restart).
type fault struct {
	At, For time.Duration
	Name    string
	inject  func(ctx context.Context) error
	lift    func(ctx context.Context) error

	// Measured: when it was injected and lifted.
	Injected, Lifted time.Time
}

// schedule is the run's faults, in order, one at a time, their times stretched by scale
// (1: the shortest run's). Each outage lasts as long whatever the scale.
func (s *stack) schedule(scale float64) []*fault {
	var fs []*fault
	add := func(atSec float64, d time.Duration, name string, inject, lift func(context.Context) error) {
		fs = append(fs, &fault{At: time.Duration(atSec * scale * float64(time.Second)), For: d, Name: name, inject: inject, lift: lift})
	}
	kill := func(i int) func(context.Context) error {
		return func(context.Context) error { s.killWorker(i); return nil }
	}
	restart := func(i int) func(context.Context) error {
		return func(context.Context) error { return s.startWorker(i) }
	}
	set := func(service string, cfg faults.Config) func(context.Context) error {
		fc := faults.NewClient(httpx.NewClient("http://127.0.0.1:"+strconv.Itoa(s.ports[service]), httpx.NewServiceHTTPClient(s.svcToken), nil))
		return func(ctx context.Context) error { return fc.Set(ctx, cfg) }
	}
	none := func(context.Context) error { return nil }

	add(5, 3*time.Second, "SIGKILL worker 1, restart after 3 s", kill(0), restart(0))
	add(12, 20*time.Second, "payment down for 20 s", set(config.Payment, faults.Config{Down: true}), set(config.Payment, faults.Config{}))
	add(36, 15*time.Second, "shipping slow (3 s a call) for 15 s", set(config.Shipping, faults.Config{LatencyMs: 3000}), set(config.Shipping, faults.Config{}))
	add(54, 3*time.Second, "SIGKILL worker 2, restart after 3 s", kill(1), restart(1))
	add(60, 20*time.Second, "inventory down for 20 s", set(config.Inventory, faults.Config{Down: true}), set(config.Inventory, faults.Config{}))
	add(84, 0, "PostgreSQL stopped in immediate mode, then started", s.pg.StopImmediately, s.pg.Start)
	add(92, 0, "Temporal dev server SIGKILLed, then started on its database file", s.killTemporal, none)
	add(100, 3*time.Second, "SIGKILL worker 1, restart after 3 s", kill(0), restart(0))
	return fs
}

func printSchedule(w io.Writer, fs []*fault) {
	fmt.Fprintln(w, "chaos: the schedule, from the start of the load:")
	for _, f := range fs {
		fmt.Fprintf(w, "  %6.1fs  %s\n", f.At.Seconds(), f.Name)
	}
}

// runSchedule injects and lifts each fault on time, from start, and logs as it goes. It
// returns the first fault that could not be injected or lifted.
func runSchedule(ctx context.Context, start time.Time, fs []*fault, w io.Writer) error {
	for _, f := range fs {
		if !sleepUntil(ctx, start.Add(f.At)) {
			return ctx.Err()
		}
		f.Injected = time.Now()
		fmt.Fprintf(w, "chaos: %6.1fs  %s\n", time.Since(start).Seconds(), f.Name)
		if err := f.inject(ctx); err != nil {
			return fmt.Errorf("inject %q: %w", f.Name, err)
		}
		if !sleepUntil(ctx, f.Injected.Add(f.For)) {
			return ctx.Err()
		}
		if err := f.lift(ctx); err != nil {
			return fmt.Errorf("lift %q: %w", f.Name, err)
		}
		f.Lifted = time.Now()
		fmt.Fprintf(w, "chaos: %6.1fs  lifted: %s (after %.1fs)\n", time.Since(start).Seconds(), f.Name, f.Lifted.Sub(f.Injected).Seconds())
	}
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
