package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
)

// Action is an operator's decision on an order, sent to its workflow as the update of
// that name.
type Action string

// The operators' actions.
const (
	// Approve and Reject decide an order that awaits approval.
	Approve Action = saga.UpdateApprove
	Reject  Action = saga.UpdateReject
	// RetryCompensations runs a stuck compensation again.
	RetryCompensations Action = saga.UpdateRetryCompensations
	// ResolveManually records that an operator undid the stuck step by hand (a note is
	// required) and lets the saga move on.
	ResolveManually Action = saga.UpdateResolveManually
)

// Decision is who decides on an order, and why: the optional body of a cancel and of the
// operators' actions.
type Decision struct {
	By   string `json:"by,omitempty"`
	Note string `json:"note,omitempty"`
}

// validate checks d; a note is needed when noteRequired.
func (d Decision) validate(noteRequired bool) error {
	var v validate.Validator
	domain.By.Check(&v, "by", d.By)
	note := domain.Note
	note.Required = noteRequired
	note.Check(&v, "note", d.Note)
	return v.Err()
}

// updateTimeout bounds how long a decision waits for the workflow to take it.
const updateTimeout = 10 * time.Second

// Cancel asks the order's saga to cancel: the running step is cancelled and the completed
// ones are undone. By defaults to "customer". It returns the order as the workflow
// answered, ErrInvalidState once the order is final, past the point of no return or
// already being undone, ErrOrderNotFound, a *validate.Error, or an error wrapping
// httpx.ErrUnavailable.
func (s *Service) Cancel(ctx context.Context, orderID string, d Decision) (OrderView, error) {
	if err := d.validate(false); err != nil {
		return OrderView{}, err
	}
	if d.By == "" {
		d.By = "customer"
	}
	return s.update(ctx, orderID, saga.UpdateCancel, d)
}

// Decide sends an operator's action to the order's saga. By defaults to "operator";
// ResolveManually needs a note. It returns the order as the workflow answered, or the
// errors of Cancel (ErrInvalidState when the order is not in a state the action applies
// to).
func (s *Service) Decide(ctx context.Context, orderID string, a Action, d Decision) (OrderView, error) {
	if err := d.validate(a == ResolveManually); err != nil {
		return OrderView{}, err
	}
	if d.By == "" {
		d.By = "operator"
	}
	return s.update(ctx, orderID, string(a), d)
}

// update sends an update to the order's workflow and waits for its result. A closed
// workflow refuses with ErrInvalidState naming the order's final status.
func (s *Service) update(ctx context.Context, orderID, name string, d Decision) (OrderView, error) {
	if !domain.ID(orderID).Valid() {
		return OrderView{}, fmt.Errorf("%w: %q", ErrOrderNotFound, orderID)
	}
	ctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	st, err := s.sagas.Update(ctx, orderID, name, saga.Decision(d))
	if errors.As(err, new(*serviceerror.NotFound)) {
		// Either no such order, or its workflow has closed.
		if o, gerr := s.orders.Get(ctx, orderID); gerr == nil {
			return OrderView{}, fmt.Errorf("%w: order %s is already %s", ErrInvalidState, orderID, o.Status)
		}
	}
	if err != nil {
		return OrderView{}, fromTemporal(orderID, err)
	}
	return s.viewOf(st), nil
}
