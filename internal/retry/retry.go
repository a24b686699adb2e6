// Package retry runs an operation again while it fails with a transient error, within a
// small time budget: how processes ride through a short outage of what they depend on (a
// database restarting, a service redeploying) before they give up and answer 503.
package retry

import (
	"context"
	"time"
)

// Budget is how long a request rides through a short outage before it answers 503.
const Budget = 2500 * time.Millisecond

// Within calls fn until it succeeds, fails with an error that transient does not accept,
// or budget has passed; it returns fn's last error. Between calls it waits 50 ms, then
// twice as long each time, at most 500 ms, and never past ctx or the budget.
func Within(ctx context.Context, budget time.Duration, transient func(error) bool, fn func() error) error {
	deadline := time.Now().Add(budget)
	wait := 50 * time.Millisecond
	for {
		err := fn()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return err
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}
