package api

import (
	"fmt"
	"net/url"
	"time"

	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/workflows"
)

// OrderView is an order as the API shows it: the workflow's state plus links.
type OrderView struct {
	workflows.OrderState
	Links Links `json:"links"`
}

// Links point at the order in the API and in the Temporal Web UI.
type Links struct {
	Self       string `json:"self"`
	TemporalUI string `json:"temporalUI"`
}

func (s *server) viewOf(st workflows.OrderState) OrderView {
	if st.Steps == nil {
		st.Steps = []workflows.StepState{}
	}
	if st.Items == nil {
		st.Items = []workflows.Item{}
	}
	ui := fmt.Sprintf("%s/namespaces/%s/workflows/%s", s.cfg.UIURL, url.PathEscape(s.cfg.Namespace), url.PathEscape(st.WorkflowID))
	if st.RunID != "" {
		ui += "/" + url.PathEscape(st.RunID) + "/history"
	}
	return OrderView{OrderState: st, Links: Links{Self: "/v1/orders/" + st.OrderID, TemporalUI: ui}}
}

// initialState is the state of an order whose workflow run runID was just started.
func initialState(in workflows.OrderInput, runID string, now time.Time) workflows.OrderState {
	st := workflows.OrderState{
		OrderID: in.OrderID, CustomerID: in.CustomerID, Items: in.Items, TotalCents: in.TotalCents,
		Currency: in.Currency, Status: workflows.StatusPending, WorkflowID: workflows.WorkflowID(in.OrderID),
		RunID: runID, CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
	}
	for _, step := range workflows.Steps {
		st.Steps = append(st.Steps, workflows.StepState{Name: step, Status: workflows.StepPending})
	}
	return st
}

// stateOf is the state the order service knows: no steps, the failure as recorded.
func stateOf(o order.Order) workflows.OrderState {
	st := workflows.OrderState{
		OrderID: o.OrderID, CustomerID: o.CustomerID, TotalCents: o.TotalCents, Currency: o.Currency,
		Status: workflows.OrderStatus(o.Status), WorkflowID: workflows.WorkflowID(o.OrderID),
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
	for _, it := range o.Items {
		st.Items = append(st.Items, workflows.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	if o.ErrorType != "" {
		st.Failure = &workflows.Failure{Step: workflows.Step(o.FailedStep), Type: o.ErrorType, Message: o.Reason}
	}
	return st
}
