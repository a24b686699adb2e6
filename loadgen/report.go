package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/saga"
)

// Report is the outcome of a run.
type Report struct {
	Orders []Order `json:"-"`
	// Placed, Settled and Failed count the orders placed, those seen final, and those that
	// could not be placed at all.
	Placed, Settled, Failed int
	ByStatus                map[saga.OrderStatus]int
	ByKind                  map[Kind]map[saga.OrderStatus]int
	// Unexpected lists the answers that were not a success to a request that should have
	// succeeded (a 500, a 4xx to a valid request, a 503 without Retry-After, no answer);
	// Unavailable the 503 and 429 answers with a Retry-After (each retried, as a good
	// client does); Refused those that rightly were not (a cancel that came too late).
	Unexpected, Unavailable, Refused []Answer
	Retries                          int
	Duration                         time.Duration
	// Throughput is settled orders per second.
	Throughput float64
	// Accept and EndToEnd are latency percentiles: p50, p95, p99 and the maximum.
	Accept, EndToEnd Percentiles
}

// Percentiles of a latency.
type Percentiles struct {
	P50, P95, P99, Max time.Duration
}

func (p Percentiles) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("p50 %v  p95 %v  p99 %v  max %v", r(p.P50), r(p.P95), r(p.P99), r(p.Max))
}

// OrderIDs returns the IDs of the orders that were placed.
func (r *Report) OrderIDs() []string {
	var ids []string
	for _, o := range r.Orders {
		if o.Placed {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

func (g *generator) report(orders []Order, took time.Duration) *Report {
	r := &Report{Orders: orders, Duration: took, ByStatus: map[saga.OrderStatus]int{}, ByKind: map[Kind]map[saga.OrderStatus]int{}}
	var accept, e2e []time.Duration
	for _, o := range orders {
		r.Retries += o.Retries
		if !o.Placed {
			r.Failed++
			continue
		}
		r.Placed++
		accept = append(accept, o.Accept)
		r.ByStatus[o.Status]++
		if r.ByKind[o.Kind] == nil {
			r.ByKind[o.Kind] = map[saga.OrderStatus]int{}
		}
		r.ByKind[o.Kind][o.Status]++
		if o.Status.Final() {
			r.Settled++
			e2e = append(e2e, o.EndToEnd)
		}
	}
	g.mu.Lock()
	for _, a := range g.answers {
		switch {
		case refused(a):
			r.Refused = append(r.Refused, a)
		case unavailable(a):
			r.Unavailable = append(r.Unavailable, a)
		default:
			r.Unexpected = append(r.Unexpected, a)
		}
	}
	g.mu.Unlock()
	r.Accept, r.EndToEnd = percentiles(accept), percentiles(e2e)
	if took > 0 {
		r.Throughput = float64(r.Settled) / took.Seconds()
	}
	return r
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Percentiles{P50: at(.5), P95: at(.95), P99: at(.99), Max: s[len(s)-1]}
}

// WriteSummary writes the report for people.
func (r *Report) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "orders     %d placed, %d settled, %d could not be placed, in %v (%.1f orders/s)\n",
		r.Placed, r.Settled, r.Failed, r.Duration.Round(time.Millisecond), r.Throughput)
	fmt.Fprintf(w, "accept     %v\n", r.Accept)
	fmt.Fprintf(w, "end to end %v\n", r.EndToEnd)
	var statuses []string
	for _, st := range []saga.OrderStatus{saga.StatusCompleted, saga.StatusRejected, saga.StatusCancelled, saga.StatusNeedsAttention} {
		if n := r.ByStatus[st]; n > 0 {
			statuses = append(statuses, fmt.Sprintf("%s %d", st, n))
		}
	}
	for st, n := range r.ByStatus {
		if !st.Final() && st != saga.StatusNeedsAttention {
			statuses = append(statuses, fmt.Sprintf("%s %d (not settled)", st, n))
		}
	}
	fmt.Fprintf(w, "outcomes   %s\n", strings.Join(statuses, ", "))
	for _, k := range Kinds {
		if m := r.ByKind[k]; len(m) > 0 {
			var parts []string
			for st, n := range m {
				parts = append(parts, fmt.Sprintf("%s %d", st, n))
			}
			slices.Sort(parts)
			fmt.Fprintf(w, "  %-12s %s\n", k, strings.Join(parts, ", "))
		}
	}
	fmt.Fprintf(w, "answers    %d unexpected non-2xx, %d 503 with Retry-After (retried), %d rightly refused; %d POSTs sent again\n",
		len(r.Unexpected), len(r.Unavailable), len(r.Refused), r.Retries)
	for i, a := range r.Unexpected {
		if i == 10 {
			fmt.Fprintf(w, "  ... and %d more\n", len(r.Unexpected)-10)
			break
		}
		fmt.Fprintf(w, "  %s\n", a)
	}
}

// MarshalJSON writes the report for programs: durations in milliseconds, the orders left out.
func (r *Report) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	pct := func(p Percentiles) map[string]float64 {
		return map[string]float64{"p50": ms(p.P50), "p95": ms(p.P95), "p99": ms(p.P99), "max": ms(p.Max)}
	}
	return json.Marshal(map[string]any{
		"placed": r.Placed, "settled": r.Settled, "failed": r.Failed,
		"byStatus": r.ByStatus, "byKind": r.ByKind,
		"unexpected": nonNil(r.Unexpected), "unavailable": len(r.Unavailable), "refused": len(r.Refused),
		"retries": r.Retries, "durationMs": ms(r.Duration), "throughputPerSecond": r.Throughput,
		"acceptMs": pct(r.Accept), "endToEndMs": pct(r.EndToEnd),
	})
}

func nonNil(a []Answer) []Answer {
	if a == nil {
		return []Answer{}
	}
	return a
}
