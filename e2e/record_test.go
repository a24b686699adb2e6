package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
)

// recorder remembers the workflow of one order per scenario, so that a run with
// -record-histories can save their histories for the replay test in workflows/.
type recorder struct {
	tc  client.Client
	mu  sync.Mutex
	ids map[string]string // scenario → workflow ID
}

// note records the order of a scenario (the first one seen, from the first stack).
func (r *recorder) note(scenario, orderID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[scenario]; !ok {
		r.ids[scenario] = "order-" + orderID
	}
}

// write saves each scenario's history as <scenario>.json in dir, or as
// <scenario>-<suffix>.json when suffix is not empty.
func (r *recorder) write(dir, suffix string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(r.ids))
	for name := range r.ids {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var h historypb.History
		iter := r.tc.GetWorkflowHistory(context.Background(), r.ids[name], "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return fmt.Errorf("history of %s: %w", name, err)
			}
			h.Events = append(h.Events, ev)
		}
		data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
		if err != nil {
			return err
		}
		file := name
		if suffix != "" {
			file += "-" + suffix
		}
		path := filepath.Join(dir, file+".json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "e2e: recorded %s (%d events)\n", path, len(h.Events))
	}
	return nil
}
