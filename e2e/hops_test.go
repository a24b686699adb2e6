package e2e

import (
	"context"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
)

// hopOrders is how many orders of each variant hops follows, one at a time.
const hopOrders = 20

// hopRow is where a variant's orders spent their time at one client, the median over
// its orders of each sum, read from the orders' histories (the server's clock).
type hopRow struct {
	Variant string
	// Client is the time the caller waited, from its call to the order's end.
	Client time.Duration
	// Server is from the history's first event to its last.
	Server time.Duration
	// TaskWait sums the workflow tasks' waits, from scheduled to started: the server
	// handing a task to the worker.
	TaskWait time.Duration
	// TaskRun sums the workflow tasks' runs, from started to completed: the worker
	// running the workflow's code, and the server taking in its commands.
	TaskRun time.Duration
	// ActivityRun sums the activities' runs, from started to completed: the worker
	// running the activity, and the server taking in its result.
	ActivityRun time.Duration
}

// hops places hopOrders orders of each variant, one at a time and the variants taking
// turns, and reads from each order's history where its time went: in Temporal handing
// out workflow tasks, in running them, or in the activities. Side by side, the variants
// show where the saga's time goes beyond the ceiling's.
func (r *benchRun) hops(b *testing.B, variants []variant) {
	b.Helper()
	rows := make([][]hopRow, len(variants))
	for range hopOrders {
		for i, v := range variants {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			t0 := time.Now()
			id, err := v.run(ctx)
			client := time.Since(t0)
			cancel()
			if err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			h := hopsOf(historyEvents(b, env.tc, id))
			h.Client = client
			rows[i] = append(rows[i], h)
		}
	}
	b.Logf("where an order's time goes at 1 client, %d orders each, one at a time, the variants taking turns, median ms per order (from the histories' event times):", hopOrders)
	logHopHeader(b)
	for i, v := range variants {
		h := medianHops(rows[i])
		h.Variant = v.name
		r.Hops = append(r.Hops, h)
		logHopRow(b, h)
	}
}

// medianHops is the median of each of rows' sums.
func medianHops(rows []hopRow) hopRow {
	if len(rows) == 0 {
		return hopRow{}
	}
	med := func(f func(hopRow) time.Duration) time.Duration {
		ds := make([]time.Duration, len(rows))
		for j, h := range rows {
			ds[j] = f(h)
		}
		return percentile(ds, 0.5)
	}
	return hopRow{Client: med(func(h hopRow) time.Duration { return h.Client }),
		Server:      med(func(h hopRow) time.Duration { return h.Server }),
		TaskWait:    med(func(h hopRow) time.Duration { return h.TaskWait }),
		TaskRun:     med(func(h hopRow) time.Duration { return h.TaskRun }),
		ActivityRun: med(func(h hopRow) time.Duration { return h.ActivityRun })}
}

// logHopHeader logs the column names of the hop tables.
func logHopHeader(b *testing.B) {
	b.Logf("%-16s %8s %8s %20s %20s %20s", "variant", "client", "server", "workflow task waits", "workflow task runs", "activity runs")
}

// logHopRow logs one variant's row of a hop table, in ms.
func logHopRow(b *testing.B, h hopRow) {
	b.Logf("%-16s %8.1f %8.1f %20.1f %20.1f %20.1f", h.Variant, ms(h.Client), ms(h.Server), ms(h.TaskWait), ms(h.TaskRun), ms(h.ActivityRun))
}

// hopsOf sums an order's workflow task waits and runs and its activity runs from its
// history.
func hopsOf(events []*historypb.HistoryEvent) hopRow {
	var h hopRow
	if len(events) == 0 {
		return h
	}
	var taskScheduled, taskStarted, activityStarted time.Time
	for _, e := range events {
		at := e.GetEventTime().AsTime()
		switch {
		case e.GetWorkflowTaskScheduledEventAttributes() != nil:
			taskScheduled = at
		case e.GetWorkflowTaskStartedEventAttributes() != nil:
			h.TaskWait += at.Sub(taskScheduled)
			taskStarted = at
		case e.GetWorkflowTaskCompletedEventAttributes() != nil:
			h.TaskRun += at.Sub(taskStarted)
		case e.GetActivityTaskStartedEventAttributes() != nil:
			activityStarted = at
		case e.GetActivityTaskCompletedEventAttributes() != nil:
			h.ActivityRun += at.Sub(activityStarted)
		}
	}
	h.Server = events[len(events)-1].GetEventTime().AsTime().Sub(events[0].GetEventTime().AsTime())
	return h
}
