// Package devserver knows how to run the Temporal dev server (`temporal server
// start-dev`, from the CLI installed in bin/) the way ordersaga needs it: with the orders'
// search attributes registered, the history service's queue polling sped up, and
// activities handed to the worker eagerly.
package devserver

import (
	"strconv"

	"github.com/ordersaga/ordersaga/internal/temporalx"
)

// Options configure a dev server.
type Options struct {
	// Port is the frontend's gRPC port; UIPort the Web UI's (0 disables the UI).
	Port, UIPort int
	// MetricsPort serves the server's Prometheus metrics on /metrics (0: a random port).
	MetricsPort int
	// DBFile keeps the server's state in a SQLite file; empty keeps it in memory.
	DBFile string
	// Namespace is created at start ("default" always exists).
	Namespace string
	// LogLevel of the server: "error" unless set (its warnings are mostly shutdown noise).
	LogLevel string
	// CodecEndpoint is the codec server the Web UI decodes payloads with (empty: none).
	CodecEndpoint string
	// DefaultPolling keeps the server's stock settings (queue polling among them), for
	// measuring what tuned buys.
	DefaultPolling bool
	// NoEagerActivities keeps the rest of tuned but sends every activity through
	// matching, for measuring what eagerActivities buys.
	NoEagerActivities bool
}

// tuned are the dynamic config values of make run's dev server.
//
// The first four remove the ~45 ms the history service waits between polls of its task
// queues by default, which otherwise adds up on every hop of a workflow, and let timers
// (activity retry backoffs among them) fire on time instead of up to a second late.
//
// The next two give each task queue one partition instead of four: with a worker or two
// polling, a task that lands on a partition where no poll waits sat there for about two
// seconds (make bench: 1 activity task in 12 started ~2 s late, on the no-op ceiling as
// on the saga; with one partition, none in 80). Four partitions are for many pollers.
//
// The next is eagerActivities.
//
// The last undoes a default of `temporal server start-dev`, which reads the search
// attributes from its database on every use, so that one created while it runs is seen at
// once. Ours are registered when it starts (its --search-attribute flags), so it can keep
// them cached like any Temporal server: the forced reads (cluster metadata and namespace)
// were 20 to 25 of a saga order's 85 or so database requests (make bench's server work
// table; BENCHMARKS.md, run Q).
var tuned = []string{
	"history.transferProcessorMaxPollRPS=2000",
	"history.timerProcessorMaxPollRPS=2000",
	"history.visibilityProcessorMaxPollRPS=2000",
	"history.timerProcessorMaxTimeShift=\"10ms\"",
	"matching.numTaskqueueReadPartitions=1",
	"matching.numTaskqueueWritePartitions=1",
	eagerActivities,
	"system.forceSearchAttributesCacheRefreshOnRead=false",
}

// eagerActivities lets the history service hand an activity that a workflow task
// schedules straight back to the worker that completed the task, in the answer to its
// completion, when that worker polls the activity's task queue and has a free slot,
// instead of queueing it in matching for a poll to collect. Every step of an order is
// such an activity. The dev server (server 1.29) has it off by default; the cluster's
// server (1.32) has it on. BenchmarkOrder measures it.
const eagerActivities = "system.enableActivityEagerExecution=true"

// Args returns the arguments of `temporal` for o.
func Args(o Options) []string {
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(o.Port)}
	if o.UIPort > 0 {
		args = append(args, "--ui-port", strconv.Itoa(o.UIPort))
	} else {
		args = append(args, "--headless")
	}
	if o.UIPort > 0 && o.CodecEndpoint != "" {
		args = append(args, "--ui-codec-endpoint", o.CodecEndpoint)
	}
	if o.MetricsPort > 0 {
		args = append(args, "--metrics-port", strconv.Itoa(o.MetricsPort))
	}
	if o.DBFile != "" {
		// WAL with NORMAL sync survives a crash of the server process, and spares the
		// fsync per transaction of SQLite's default rollback journal.
		args = append(args, "--db-filename", o.DBFile,
			"--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL")
	}
	if o.Namespace != "" && o.Namespace != "default" {
		args = append(args, "--namespace", o.Namespace)
	}
	level := o.LogLevel
	if level == "" {
		level = "error"
	}
	args = append(args, "--log-level", level)
	for _, sa := range temporalx.SearchAttributes {
		args = append(args, "--search-attribute", sa.Name+"="+sa.TypeName)
	}
	if !o.DefaultPolling {
		for _, kv := range tuned {
			if kv == eagerActivities && o.NoEagerActivities {
				continue
			}
			args = append(args, "--dynamic-config-value", kv)
		}
	}
	return args
}
