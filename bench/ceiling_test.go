package bench

import (
	"context"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// awaitDone runs the awaited ceiling over shape with its update sent as the workflow
// starts, as update-with-start sends it, and returns the update's outcome and the
// workflow's error.
func awaitDone(t *testing.T, shape []Step, noop func(context.Context) error) (completed bool, updateErr, workflowErr error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(AwaitedCeilingWorkflow, workflow.RegisterOptions{Name: AwaitedCeilingWorkflowType})
	env.RegisterActivityWithOptions(noop, activity.RegisterOptions{Name: "Noop"})
	env.RegisterActivity(NoopLocal)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateAwaitDone, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("%s refused: %v", UpdateAwaitDone, err) },
			OnComplete: func(_ any, err error) {
				completed, updateErr = true, err
			},
		})
	}, 0)
	env.ExecuteWorkflow(AwaitedCeilingWorkflowType, shape)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the awaited ceiling did not complete")
	}
	return completed, updateErr, env.GetWorkflowError()
}

func TestAwaitedCeilingAnswersItsUpdateWhenItsStepsAreDone(t *testing.T) {
	completed, updateErr, err := awaitDone(t, []Step{LocalActivity, Activity, LocalActivity, Activity}, Noop)
	if err != nil || updateErr != nil {
		t.Fatalf("workflow: %v, update: %v; want both nil", err, updateErr)
	}
	if !completed {
		t.Fatalf("the workflow closed before its %s update completed", UpdateAwaitDone)
	}
}

func TestAwaitedCeilingAnswersItsUpdateWithAFailedStep(t *testing.T) {
	broken := temporal.NewNonRetryableApplicationError("broken", "Broken", nil)
	completed, updateErr, err := awaitDone(t, []Step{Activity}, func(context.Context) error { return broken })
	if !completed || updateErr == nil || err == nil {
		t.Fatalf("update completed %v with %v, workflow %v; want the step's failure in both", completed, updateErr, err)
	}
}
