// Package starter places an order through the Temporal client, without the HTTP API, and
// follows it to the end, printing each step as it changes. cmd/starter is its command:
//
//	starter --customer cust-1 --item SKU-BOOK:2 --payment pm_card_visa --country US
//
// The order is priced from the inventory service's catalogue, like the API does, and
// started with the same workflow ID, search attributes and summaries.
package starter

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/workflows"
)

// Request is an order as given on the command line.
type Request struct {
	OrderID       string
	CustomerID    string
	Items         []inventory.Item
	PaymentMethod string
	Address       saga.Address
	// Timeout bounds the wait for the order's end; 0 waits until it ends.
	Timeout time.Duration
}

// ParseArgs reads a Request from command-line arguments. It returns flag.ErrHelp for -h.
func ParseArgs(args []string, stderr io.Writer) (Request, error) {
	var (
		r     Request
		items itemFlags
	)
	fs := flag.NewFlagSet("starter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&r.OrderID, "order-id", "", "order ID (default: a new one)")
	fs.StringVar(&r.CustomerID, "customer", "cust-1", "customer ID")
	fs.Var(&items, "item", "an item as SKU:QUANTITY; repeat for more (default SKU-BOOK:1)")
	fs.StringVar(&r.PaymentMethod, "payment", "pm_card_visa", "payment method: pm_card_visa, pm_card_declined, pm_card_flaky")
	fs.StringVar(&r.Address.Name, "name", "Ada Lovelace", "recipient's name")
	fs.StringVar(&r.Address.Line1, "line1", "12 Analytical Row", "street address")
	fs.StringVar(&r.Address.City, "city", "London", "city")
	fs.StringVar(&r.Address.PostalCode, "postal-code", "N1 9GU", "postal code (00000 is not served)")
	fs.StringVar(&r.Address.Country, "country", "GB", "country code (served: US CA GB DE FR KR JP)")
	fs.DurationVar(&r.Timeout, "timeout", 0, "give up following after this long (0: until the order ends)")
	if err := fs.Parse(args); err != nil {
		return Request{}, err
	}
	if fs.NArg() > 0 {
		return Request{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	r.Items = items
	if len(r.Items) == 0 {
		r.Items = []inventory.Item{{SKU: "SKU-BOOK", Quantity: 1}}
	}
	return r, nil
}

type itemFlags []inventory.Item

func (f *itemFlags) String() string { return fmt.Sprint(*f) }

func (f *itemFlags) Set(s string) error {
	sku, qty, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(qty)
	if !ok || err != nil || sku == "" || n <= 0 {
		return fmt.Errorf("want SKU:QUANTITY, such as SKU-BOOK:2")
	}
	*f = append(*f, inventory.Item{SKU: sku, Quantity: n})
	return nil
}

// Quoter prices items (the inventory client).
type Quoter interface {
	Quote(ctx context.Context, items []inventory.Item) (inventory.Quote, error)
}

// Temporal is what the starter needs of a Temporal client.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
}

var _ Temporal = client.Client(nil)

// Starter places and follows orders.
type Starter struct {
	Temporal  Temporal
	Catalog   Quoter
	TaskQueue string
	Policy    saga.Policy
	// UIURL and Namespace build the Web UI link.
	UIURL, Namespace string
	Out              io.Writer
}

// Run places r and follows it to its end. It returns nil only when the order COMPLETED.
func (s *Starter) Run(ctx context.Context, r Request, newID func() string) error {
	if r.OrderID == "" {
		r.OrderID = newID()
	}
	q, err := s.Catalog.Quote(ctx, r.Items)
	if err != nil {
		return fmt.Errorf("price the order: %w", err)
	}
	in := saga.OrderInput{
		Order: saga.Order{
			OrderID: r.OrderID, CustomerID: r.CustomerID, TotalCents: q.TotalCents, Currency: q.Currency,
			PaymentMethod: r.PaymentMethod, ShippingAddress: r.Address,
		},
		Policy: s.Policy,
	}
	for _, it := range q.Items {
		in.Items = append(in.Items, saga.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, workflows.StartOptions(in, s.TaskQueue, nil), saga.WorkflowType, in)
	if err != nil {
		return fmt.Errorf("start order %s: %w", r.OrderID, err)
	}
	fmt.Fprintf(s.Out, "order %s started: %s\n", r.OrderID, workflows.StaticSummary(in))
	fmt.Fprintf(s.Out, "  Web UI: %s/namespaces/%s/workflows/%s/%s/history\n", s.UIURL, s.Namespace, run.GetID(), run.GetRunID())

	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	final, err := s.follow(ctx, run)
	if err != nil {
		return err
	}
	if final.Status != saga.StatusCompleted {
		msg := string(final.Status)
		if f := final.Failure; f != nil {
			msg += fmt.Sprintf(" at %s: %s (%s)", f.Step, f.Message, f.Type)
		}
		return fmt.Errorf("order %s ended %s", r.OrderID, msg)
	}
	fmt.Fprintf(s.Out, "order %s COMPLETED\n", r.OrderID)
	return nil
}

// follow prints the order's status and steps whenever its history grows, until the
// workflow closes, and returns the final state.
func (s *Starter) follow(ctx context.Context, run client.WorkflowRun) (saga.OrderState, error) {
	var last string
	show := func() (saga.OrderState, error) {
		var st saga.OrderState
		v, err := s.Temporal.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), saga.QueryStatus)
		if err != nil {
			return st, fmt.Errorf("query order: %w", err)
		}
		if err := v.Get(&st); err != nil {
			return st, err
		}
		if line := progressLine(st); line != last {
			fmt.Fprintln(s.Out, "  "+line)
			last = line
		}
		return st, nil
	}
	iter := s.Temporal.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return saga.OrderState{}, fmt.Errorf("follow order: %w", err)
		}
		if ev.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && !isClose(ev.GetEventType()) {
			continue // the state changes only when a workflow task completes
		}
		st, err := show()
		if err != nil {
			return st, err
		}
		if isClose(ev.GetEventType()) {
			return st, nil
		}
	}
	return saga.OrderState{}, errors.New("the order's history ended without closing")
}

func isClose(t enumspb.EventType) bool {
	switch t {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
		return true
	}
	return false
}

// progressLine is one line per state: "PAID   CreateOrder ✓ ReserveInventory ✓ ...".
func progressLine(st saga.OrderState) string {
	marks := map[saga.StepStatus]string{
		saga.StepPending: "·", saga.StepRunning: "…", saga.StepCompleted: "✓",
		saga.StepFailed: "✗", saga.StepSkipped: "-", saga.StepCompensating: "↺…",
		saga.StepCompensated: "↺", saga.StepCompensationFailed: "↺✗",
	}
	parts := []string{fmt.Sprintf("%-18s", st.Status)}
	for _, step := range st.Steps {
		part := string(step.Name) + " " + marks[step.Status]
		if step.Attempts > 1 {
			part += fmt.Sprintf("(%d attempts)", step.Attempts)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "  ")
}
