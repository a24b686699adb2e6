package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/books"
	"github.com/ordersaga/ordersaga/loadgen"
	"github.com/ordersaga/ordersaga/saga"
)

// result is what a run measured.
type result struct {
	report *loadgen.Report
	books  books.Report
	// events lists where the event stream disagrees with the services' records.
	events  []string
	faults  []*fault
	running int64
	retried int
	machine string
	started time.Time
}

func numCPU() int { return runtime.NumCPU() }

// recovery is how long after a fault was lifted the first order placed from then on
// COMPLETED (so it counts a whole order's time), and how many 503s clients got from its
// injection until five seconds after.
func (r result) recovery(f *fault) (time.Duration, int) {
	var first time.Time
	for _, o := range r.report.Orders {
		if o.Status == saga.StatusCompleted && !o.PlacedAt.Before(f.Lifted) && (first.IsZero() || o.SettledAt.Before(first)) {
			first = o.SettledAt
		}
	}
	n := 0
	for _, a := range r.report.Unavailable {
		if !a.At.Before(f.Injected) && a.At.Before(f.Lifted.Add(5*time.Second)) {
			n++
		}
	}
	if first.IsZero() {
		return -1, n
	}
	return first.Sub(f.Lifted), n
}

// doubleCharges and leaks count the books' problems of each kind.
func (r result) problems(kinds ...string) int {
	n := 0
	for _, p := range r.books.Problems {
		for _, k := range kinds {
			if strings.Contains(p, k) {
				n++
				break
			}
		}
	}
	return n
}

// verdict is nil when nothing was lost, charged twice or leaked, and every answer was one
// a good client expects.
func (r result) verdict() error {
	var errs []error
	rep := r.report
	if rep.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d orders could not be placed", rep.Failed))
	}
	if rep.Settled < rep.Placed {
		errs = append(errs, fmt.Errorf("%d orders did not settle", rep.Placed-rep.Settled))
	}
	if len(rep.Unexpected) > 0 {
		errs = append(errs, fmt.Errorf("%d unexpected answers", len(rep.Unexpected)))
	}
	if r.running > 0 {
		errs = append(errs, fmt.Errorf("%d workflows still running", r.running))
	}
	if !r.books.OK() {
		errs = append(errs, fmt.Errorf("the books disagree (%d problems)", len(r.books.Problems)))
	}
	if len(r.events) > 0 {
		errs = append(errs, fmt.Errorf("the event stream disagrees with the books (%d problems)", len(r.events)))
	}
	return errors.Join(errs...)
}

func (r result) write(w io.Writer) {
	fmt.Fprintln(w, "\nchaos: the load")
	r.report.WriteSummary(w)
	fmt.Fprintln(w, "chaos: the faults")
	for _, f := range r.faults {
		rec, n := r.recovery(f)
		fmt.Fprintf(w, "  %6.1fs  %-66s recovered in %s, %d answers 503\n", f.Injected.Sub(r.started).Seconds(), f.Name, fmtRecovery(rec), n)
	}
	fmt.Fprintf(w, "chaos: %d orders retried by the operator after the faults, %d workflows left running\n", r.retried, r.running)
	if r.books.OK() {
		fmt.Fprintf(w, "chaos: the books are right: %d orders, nothing lost, charged twice or leaked\n", r.books.Orders)
	} else {
		fmt.Fprintf(w, "chaos: the books disagree:\n  %s\n", strings.Join(r.books.Problems, "\n  "))
	}
	if len(r.events) == 0 {
		fmt.Fprintln(w, "chaos: the event stream tells each order's records exactly: nothing lost, nothing twice")
	} else {
		fmt.Fprintf(w, "chaos: the event stream disagrees:\n  %s\n", strings.Join(r.events, "\n  "))
	}
}

func fmtRecovery(d time.Duration) string {
	if d < 0 {
		return "(no order completed after it)"
	}
	return d.Round(100 * time.Millisecond).String()
}

// markdown is the run's figures as RELIABILITY.md shows them.
func (r result) markdown() string {
	var b strings.Builder
	rep := r.report
	fmt.Fprintf(&b, "Run of %s on %s.\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.machine)
	fmt.Fprintf(&b, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| orders placed | %d (%d could not be placed) |\n", rep.Placed, rep.Failed)
	fmt.Fprintf(&b, "| settled | %d |\n", rep.Settled)
	var outcomes []string
	for _, st := range []saga.OrderStatus{saga.StatusCompleted, saga.StatusRejected, saga.StatusCancelled, saga.StatusNeedsAttention} {
		outcomes = append(outcomes, fmt.Sprintf("%s %d", st, rep.ByStatus[st]))
	}
	fmt.Fprintf(&b, "| outcomes | %s |\n", strings.Join(outcomes, ", "))
	fmt.Fprintf(&b, "| duration | %s (%.1f settled orders/s) |\n", rep.Duration.Round(time.Second), rep.Throughput)
	fmt.Fprintf(&b, "| accept latency | %s |\n", rep.Accept)
	fmt.Fprintf(&b, "| end-to-end latency | %s |\n", rep.EndToEnd)
	fmt.Fprintf(&b, "| 503 answers (with Retry-After, retried) | %d; POSTs sent again: %d |\n", len(rep.Unavailable), rep.Retries)
	fmt.Fprintf(&b, "| unexpected answers (500s, 4xx to valid requests) | %d |\n", len(rep.Unexpected))
	fmt.Fprintf(&b, "| compensations retried by the operator after the faults | %d |\n", r.retried)
	fmt.Fprintf(&b, "| workflows left running | %d |\n", r.running)
	fmt.Fprintf(&b, "| orders lost (placed, never settled) | %d |\n", rep.Placed-rep.Settled+r.problems("lost or stuck"))
	fmt.Fprintf(&b, "| double charges, wrong amounts | %d |\n", r.problems("customer ", "payment is CHARGED", "its payment is"))
	fmt.Fprintf(&b, "| stock leaks | %d |\n", r.problems("reserved", "still holds", "opening stock"))
	fmt.Fprintf(&b, "| books check | %s |\n", map[bool]string{true: "right", false: "wrong: " + strings.Join(r.books.Problems, "; ")}[r.books.OK()])
	fmt.Fprintf(&b, "| events check (the stream against the records) | %s |\n\n", map[bool]string{true: "right", false: "wrong: " + strings.Join(r.events, "; ")}[len(r.events) == 0])
	fmt.Fprintf(&b, "| at | fault | recovered in (first order placed after it to COMPLETE) | 503 answers during it |\n|---:|---|---|---:|\n")
	for _, f := range r.faults {
		rec, n := r.recovery(f)
		fmt.Fprintf(&b, "| %.0f s | %s | %s | %d |\n", f.Injected.Sub(r.started).Seconds(), f.Name, fmtRecovery(rec), n)
	}
	return b.String()
}
