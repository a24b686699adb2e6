package temporalx

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Provision makes a cluster ready for orders, and may run at every start: it registers
// namespace with retention (the time closed orders' histories are kept) unless it
// exists, waits until the namespace answers, adds the SearchAttributes it lacks, and
// waits until queries can name them. An attribute that exists with another type is an
// error.
func Provision(ctx context.Context, c client.Client, namespace string, retention time.Duration) error {
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        namespace,
		Description:                      "ordersaga: one workflow per order",
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	if err != nil && !errors.As(err, new(*serviceerror.NamespaceAlreadyExists)) {
		return fmt.Errorf("register namespace %s: %w", namespace, err)
	}
	// A new namespace takes a moment to reach the frontend's cache.
	var resp *operatorservice.ListSearchAttributesResponse
	for {
		resp, err = c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		if err == nil || !errors.As(err, new(*serviceerror.NamespaceNotFound)) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s did not become available: %w", namespace, errors.Join(ctx.Err(), err))
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	add := &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: map[string]enumspb.IndexedValueType{}}
	for _, sa := range SearchAttributes {
		got, ok := resp.GetCustomAttributes()[sa.Name]
		switch {
		case !ok:
			add.SearchAttributes[sa.Name] = sa.Type
		case got != sa.Type:
			return fmt.Errorf("namespace %s: search attribute %s is a %s, want %s", namespace, sa.Name, got, sa.Type)
		}
	}
	if len(add.SearchAttributes) > 0 {
		if _, err := c.OperatorService().AddSearchAttributes(ctx, add); err != nil {
			return fmt.Errorf("add search attributes: %w", err)
		}
	}
	// New attributes reach the frontend's visibility cache a moment later; until then a
	// query naming them (the worker's gauges, the runbook's lists) is refused.
	query := &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace}
	for _, sa := range SearchAttributes {
		if query.Query != "" {
			query.Query += " AND "
		}
		query.Query += sa.Name + " IS NULL"
	}
	for {
		_, err := c.WorkflowService().CountWorkflowExecutions(ctx, query)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the search attributes of %s are not queryable: %w", namespace, errors.Join(ctx.Err(), err))
		case <-time.After(250 * time.Millisecond):
		}
	}
}
