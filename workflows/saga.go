package workflows

import (
	"github.com/ordersaga/ordersaga/saga"
	"go.temporal.io/sdk/workflow"
)

// Saga is a stack of compensations. After each step returns, the workflow pushes the
// step's compensation (unless the service definitely refused the step); on failure or
// cancellation, Compensate pops and runs them, last in first out.
type Saga struct {
	stack []Compensation
}

// Compensation undoes one step.
type Compensation struct {
	// Step is the forward step this compensation undoes.
	Step saga.Step
	// Run performs the compensation; it must be idempotent.
	Run func(ctx workflow.Context) error
}

// Add pushes a compensation.
func (s *Saga) Add(c Compensation) {
	s.stack = append(s.stack, c)
}

// Len returns how many compensations are registered and not yet run.
func (s *Saga) Len() int { return len(s.stack) }

// CompensationHooks let the workflow observe and steer Compensate.
type CompensationHooks struct {
	// Started is called before each run of a compensation.
	Started func(step saga.Step)
	// Finished is called after each run, with its error (nil on success).
	Finished func(step saga.Step, err error)
	// Stuck is called when a compensation failed after its retries. It may block (to wait
	// for an operator) and returns true to run the compensation again, or false to consider
	// it resolved and move on to the next one.
	Stuck func(ctx workflow.Context, step saga.Step, err error) (retry bool)
}

// Compensate runs the registered compensations last-in first-out on a context
// disconnected from ctx, so that they run even when ctx is being cancelled. A compensation
// that fails is handed to hooks.Stuck until it succeeds or is resolved; only then do the
// earlier steps' compensations run, because later steps may depend on earlier ones.
func (s *Saga) Compensate(ctx workflow.Context, hooks CompensationHooks) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	for len(s.stack) > 0 {
		c := s.stack[len(s.stack)-1]
		for {
			hooks.Started(c.Step)
			err := c.Run(ctx)
			hooks.Finished(c.Step, err)
			if err == nil || !hooks.Stuck(ctx, c.Step, err) {
				break
			}
		}
		s.stack = s.stack[:len(s.stack)-1]
	}
}
