package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Consume reads the stream from its first event, in stream order, and hands each event
// to fn, as a consumer that follows orders would (an ordered, ephemeral consumer: nothing
// is left on the server). Without follow it returns once it has handed over every event
// the stream held when it started (at once when there is no stream yet); with follow it
// goes on until ctx ends or fn fails.
func Consume(ctx context.Context, js jetstream.JetStream, follow bool, fn func(Event) error) error {
	stream, err := js.Stream(ctx, Stream)
	for follow && errors.Is(err, jetstream.ErrStreamNotFound) {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		stream, err = js.Stream(ctx, Stream)
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", Stream, err)
	}
	last := stream.CachedInfo().State.LastSeq
	if !follow && last == 0 {
		return nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("consumer of %s: %w", Stream, err)
	}
	// One consumer on the server for the whole read, pulled from in batches: Next on an
	// ordered consumer would delete it and make a new one for every message.
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", Stream, err)
	}
	defer msgs.Stop()
	for {
		msg, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", Stream, err)
		}
		var ev Event
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			return fmt.Errorf("event on %s: %w", msg.Subject(), err)
		}
		if err := fn(ev); err != nil {
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		if !follow && meta.Sequence.Stream >= last {
			return nil
		}
	}
}
