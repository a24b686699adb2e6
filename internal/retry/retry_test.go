package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errTransient, errFinal = errors.New("transient"), errors.New("final")

func isTransient(err error) bool { return errors.Is(err, errTransient) }

func TestWithin(t *testing.T) {
	t.Run("a transient failure is retried until it succeeds", func(t *testing.T) {
		calls := 0
		err := Within(context.Background(), time.Second, isTransient, func() error {
			if calls++; calls < 3 {
				return errTransient
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Errorf("err = %v after %d calls, want success after 3", err, calls)
		}
	})
	t.Run("a final failure is not retried", func(t *testing.T) {
		calls := 0
		err := Within(context.Background(), time.Second, isTransient, func() error { calls++; return errFinal })
		if !errors.Is(err, errFinal) || calls != 1 {
			t.Errorf("err = %v after %d calls", err, calls)
		}
	})
	t.Run("the budget bounds the retries", func(t *testing.T) {
		start, calls := time.Now(), 0
		err := Within(context.Background(), 300*time.Millisecond, isTransient, func() error { calls++; return errTransient })
		if took := time.Since(start); !errors.Is(err, errTransient) || took > 2*time.Second || calls < 2 {
			t.Errorf("err = %v after %d calls in %v", err, calls, took)
		}
	})
	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := Within(ctx, time.Minute, isTransient, func() error { calls++; cancel(); return errTransient })
		if !errors.Is(err, errTransient) || calls != 1 {
			t.Errorf("err = %v after %d calls", err, calls)
		}
	})
}
