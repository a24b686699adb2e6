// Package starter places an order through the Temporal client, without the HTTP API, and
// follows it to the end, printing each step as it changes. cmd/starter is its command:
//
//	starter --customer cust-1 --item SKU-BOOK:2 --payment pm_card_visa --country US
//
// The order is placed with the same use case the API calls (package app): priced from the
// inventory service's catalogue, started with the same workflow ID, search attributes and
// summaries.
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

	"github.com/ordersaga/ordersaga/app"
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

// Orders places orders: the use cases of package app.
type Orders interface {
	Place(ctx context.Context, req app.PlaceRequest, key string, wait time.Duration) (app.Placed, error)
}

// Temporal is what the starter needs of a Temporal client to follow an order.
type Temporal interface {
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
}

var (
	_ Orders   = (*app.Service)(nil)
	_ Temporal = client.Client(nil)
)

// Starter places and follows orders.
type Starter struct {
	Orders   Orders
	Temporal Temporal
	Out      io.Writer
}

// Run places r, as the API would (priced from the catalogue, started with the same
// workflow ID, search attributes and summaries), and follows it to its end. It returns nil
// only when the order COMPLETED.
func (s *Starter) Run(ctx context.Context, r Request) error {
	req := app.PlaceRequest{OrderID: r.OrderID, CustomerID: r.CustomerID, PaymentMethod: r.PaymentMethod, ShippingAddress: r.Address}
	for _, it := range r.Items {
		req.Items = append(req.Items, app.ItemRequest{SKU: it.SKU, Quantity: it.Quantity})
	}
	placed, err := s.Orders.Place(ctx, req, "", 0)
	if err != nil {
		return fmt.Errorf("place the order: %w", err)
	}
	v := placed.Order
	summary := workflows.StaticSummary(saga.OrderInput{Order: saga.Order{OrderID: v.OrderID, CustomerID: v.CustomerID,
		Items: v.Items, TotalCents: v.TotalCents, Currency: v.Currency}})
	fmt.Fprintf(s.Out, "order %s started: %s\n", v.OrderID, summary)
	fmt.Fprintf(s.Out, "  Web UI: %s\n", v.Links.TemporalUI)

	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	final, err := s.follow(ctx, v.WorkflowID, v.RunID)
	if err != nil {
		return err
	}
	if final.Status != saga.StatusCompleted {
		msg := string(final.Status)
		if f := final.Failure; f != nil {
			msg += fmt.Sprintf(" at %s: %s (%s)", f.Step, f.Message, f.Type)
		}
		return fmt.Errorf("order %s ended %s", v.OrderID, msg)
	}
	fmt.Fprintf(s.Out, "order %s COMPLETED\n", v.OrderID)
	return nil
}

// follow prints the order's status and steps whenever its history grows, until the
// workflow closes, and returns the final state.
func (s *Starter) follow(ctx context.Context, workflowID, runID string) (saga.OrderState, error) {
	var last string
	show := func() (saga.OrderState, error) {
		var st saga.OrderState
		v, err := s.Temporal.QueryWorkflow(ctx, workflowID, runID, saga.QueryStatus)
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
	iter := s.Temporal.GetWorkflowHistory(ctx, workflowID, runID, true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
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
