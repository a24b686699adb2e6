package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/ordersaga/ordersaga/books"
	"github.com/ordersaga/ordersaga/services/order"
)

// checkAllInvariants checks, after every test ran, that each stack's data agrees with its
// orders' final statuses, and that no order's workflow is left running. It prints each
// violation and returns the exit code.
func checkAllInvariants() int {
	code := 0
	for _, s := range env.stacks {
		violations, err := s.invariantViolations(context.Background())
		if err != nil {
			violations = append(violations, "could not check: "+err.Error())
		}
		for _, v := range violations {
			fmt.Fprintf(os.Stderr, "INVARIANT [%s]: %s\n", s.name, v)
			code = 1
		}
		if len(violations) == 0 {
			fmt.Fprintf(os.Stderr, "e2e: invariants hold on the %s stack\n", s.name)
		}
	}
	return code
}

// checkBooks fails t with each violation of the books of the stack's orders (see
// invariantViolations); the tests that run a stack of their own call it at their end.
func (s *stack) checkBooks(t testing.TB) {
	t.Helper()
	violations, err := s.invariantViolations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Errorf("books: %s", v)
	}
}

func (s *stack) invariantViolations(ctx context.Context) ([]string, error) {
	var ids []string
	q := order.ListQuery{Limit: order.MaxLimit}
	for {
		page, err := s.orders.List(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Orders {
			ids = append(ids, o.OrderID)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	s.mu.Lock()
	open := books.Opening{Stock: maps.Clone(s.initialStock), Balances: maps.Clone(s.initialBalance)}
	s.mu.Unlock()
	report, err := books.Check(ctx, s.books(), ids, open)
	if err != nil {
		return nil, err
	}
	bad := report.Problems
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if s.natsURL != "" {
		problems, err := s.eventProblems(ctx, ids)
		if err != nil {
			return bad, err
		}
		bad = append(bad, problems...)
	}
	for _, id := range report.NeedsAttention {
		badf("order %s was left NEEDS_ATTENTION", id)
	}

	// Every order's workflow has closed (visibility lags a little behind).
	query := fmt.Sprintf("TaskQueue = %q AND ExecutionStatus = 'Running'", s.taskQueue)
	var running int64
	for range 50 {
		resp, err := s.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err != nil {
			return bad, err
		}
		if running = resp.GetCount(); running == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if running != 0 {
		badf("%d workflows still running on %s", running, s.taskQueue)
	}
	fmt.Fprintf(os.Stderr, "e2e: checked %d orders, %d products, %d customers on the %s stack\n", report.Orders, len(open.Stock), len(open.Balances), s.name)
	return bad, nil
}

// eventProblems checks the event stream against the services' records of the orders (see
// books.CheckEvents).
func (s *stack) eventProblems(ctx context.Context, orderIDs []string) ([]string, error) {
	read, closeConn, err := books.ConnectStream(s.natsURL)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	return books.CheckEvents(ctx, s.books(), s.orders, orderIDs, read, 2*time.Minute)
}
