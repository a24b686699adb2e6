package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/order"
)

// OrderView is an order as the API shows it: the workflow's state plus links.
type OrderView struct {
	saga.OrderState
	Links Links `json:"links"`
}

// Links point at the order in the API and in the Temporal Web UI.
type Links struct {
	Self       string `json:"self"`
	TemporalUI string `json:"temporalUI"`
}

func (s *server) viewOf(st saga.OrderState) OrderView {
	if st.Steps == nil {
		st.Steps = []saga.StepState{}
	}
	if st.Items == nil {
		st.Items = []saga.Item{}
	}
	ui := fmt.Sprintf("%s/namespaces/%s/workflows/%s", s.cfg.UIURL, url.PathEscape(s.cfg.Namespace), url.PathEscape(st.WorkflowID))
	if st.RunID != "" {
		ui += "/" + url.PathEscape(st.RunID) + "/history"
	}
	return OrderView{OrderState: st, Links: Links{Self: "/v1/orders/" + st.OrderID, TemporalUI: ui}}
}

// initialState is the state of an order whose workflow run runID was just started.
func initialState(in saga.OrderInput, runID string, now time.Time) saga.OrderState {
	st := saga.OrderState{
		OrderID: in.OrderID, CustomerID: in.CustomerID, Items: in.Items, TotalCents: in.TotalCents,
		Currency: in.Currency, Status: saga.StatusPending, WorkflowID: saga.WorkflowID(in.OrderID),
		RunID: runID, CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
	}
	for _, step := range saga.Steps {
		st.Steps = append(st.Steps, saga.StepState{Name: step, Status: saga.StepPending})
	}
	return st
}

// stateOf is the order as the read model holds it: the saga's view of it, as the workflow
// last wrote it to the order service, with the order service's own status when that is
// further along (the final status, recorded by the last step, before the saga's final
// view arrives). Before the saga's first view, the steps are derived from the status.
func stateOf(o order.Order) saga.OrderState {
	var st saga.OrderState
	if len(o.State) > 0 && json.Unmarshal(o.State, &st) == nil && st.OrderID == o.OrderID {
		if status := saga.OrderStatus(o.Status); status.Final() && !st.Status.Final() {
			st.Status = status
			st.Failure = failureOf(o)
		}
		return st
	}
	st = saga.OrderState{
		OrderID: o.OrderID, CustomerID: o.CustomerID, TotalCents: o.TotalCents, Currency: o.Currency,
		Status: saga.OrderStatus(o.Status), WorkflowID: saga.WorkflowID(o.OrderID),
		Version: o.Version, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Failure: failureOf(o),
	}
	for _, it := range o.Items {
		st.Items = append(st.Items, saga.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	for _, step := range saga.Steps {
		status := saga.StepPending
		if step == saga.StepCreateOrder && !o.Tombstone {
			status = saga.StepCompleted // the order service has the order
		}
		st.Steps = append(st.Steps, saga.StepState{Name: step, Status: status})
	}
	return st
}

func failureOf(o order.Order) *saga.Failure {
	if o.ErrorType == "" {
		return nil
	}
	return &saga.Failure{Step: saga.Step(o.FailedStep), Type: o.ErrorType, Message: o.Reason}
}
