package workflows

// Fuzz targets for the decoding of the signal and update payloads (handlers.go). This file
// is in package workflows, unlike the other tests here, to reach normalized, which every
// update handler applies to its decision, and maxWait, the bound of wait-settled.
//
// Run one for longer with: go test -run '^$' -fuzz FuzzDecodeDecision -fuzztime 5m ./workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
)

// checkNormalized fails t unless d is a decision as the order records it: valid by the
// rules of domain.By and domain.Note, and left unchanged by normalized.
func checkNormalized(t *testing.T, d saga.Decision, from string) {
	t.Helper()
	var v validate.Validator
	domain.By.Check(&v, "by", d.By)
	domain.Note.Check(&v, "note", d.Note)
	if err := v.Err(); err != nil {
		t.Fatalf("%s gave %+q, which is not valid: %v", from, d, err)
	}
	if n := normalized(d); n != d {
		t.Fatalf("%s gave %+q, which normalizes again to %+q", from, d, n)
	}
}

// checkRoundTrip fails t unless d, encoded as a signal's payload is, decodes to d again.
func checkRoundTrip(t *testing.T, d saga.Decision) {
	t.Helper()
	payload, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("encode %+q: %v", d, err)
	}
	back, err := DecodeDecision(payload)
	if err != nil || back != d {
		t.Fatalf("%+q encoded as %s decodes to %+q, %v", d, payload, back, err)
	}
}

// FuzzDecodeDecision drives DecodeDecision, the decoding of a signal's payload, with any
// bytes. Properties: no panic; an error and an empty decision, or a valid, normalized one
// that round-trips through JSON; and a payload that is exactly one JSON object of the
// fields of a decision (or nothing, or null) is never refused, and gives that decision
// normalized; anything else is refused.
func FuzzDecodeDecision(f *testing.F) {
	for _, s := range []string{
		`{"by":"alice","note":"ok"}`,
		`{"note":"refunded by hand"}`,
		``, `   `, `null`, `{}`,
		`{"by":"alice\nbob","note":"\u0000\t line "}`,
		`{"by":"` + string(bytes.Repeat([]byte("é"), 150)) + `"}`,
		`{"by":"\ud800\udc00\ud800","note":"\xff\xfe"}`,
		`{"by":1}`, `{"by":"a","extra":true}`, `{"BY":"upper"}`, `{"by":"a","by":"b"}`,
		`{"by":"a"}{"by":"b"}`, `{"by":"a"} x`, `{"by":"a"}]`, `{"by":"a"}}`, `["alice"]`, `"alice"`, `{"by":`,
		`{"note":1e400}`, `{"by":null,"note":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := DecodeDecision(payload)
		if err != nil {
			if d != (saga.Decision{}) {
				t.Fatalf("error %v with decision %+q", err, d)
			}
		} else {
			checkNormalized(t, d, "DecodeDecision")
			checkRoundTrip(t, d)
		}

		// The oracle: one JSON value with no unknown fields, and nothing after it.
		var want saga.Decision
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.DisallowUnknownFields()
		wellFormed := len(bytes.Trim(payload, " \t\r\n")) == 0 // nothing but JSON white space is an empty decision
		if !wellFormed && dec.Decode(&want) == nil {
			_, end := dec.Token()
			wellFormed = errors.Is(end, io.EOF)
		}
		if wellFormed && (err != nil || d != normalized(want)) {
			t.Fatalf("%q decodes to %+q, %v; want %+q", payload, d, err, normalized(want))
		}
		if !wellFormed && err == nil {
			t.Fatalf("%q is not one JSON decision, yet decodes to %+q", payload, d)
		}
	})
}

// jsonPayload is what the Temporal client sends: a value encoded by the default data
// converter.
func jsonPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatalf("encode %+q: %v", v, err)
	}
	return p
}

// FuzzDecisionRoundTrip drives a decision made of any two strings through both ways it
// reaches the workflow: as an update (Temporal's data converter decodes the argument, the
// handler normalizes it) and as a signal (the payload is received raw and decoded by
// DecodeDecision). Properties: no panic; both give the same valid, normalized decision;
// normalizing is idempotent; and the decision round-trips through JSON.
func FuzzDecisionRoundTrip(f *testing.F) {
	f.Add("alice", "ok")
	f.Add("", "")
	f.Add(" ops team ", "refunded by hand\r\nticket #42")
	f.Add("\x00", "\xff\xfe\xfd")
	f.Add("a\u2028b\u0085c", "\u00a0trailing nbsp\u00a0")
	f.Add(string(bytes.Repeat([]byte("🚀"), 101)), string(bytes.Repeat([]byte("x "), 600)))
	f.Add("<script>&amp;", `"quoted" \ back\slash`)
	f.Fuzz(func(t *testing.T, by, note string) {
		payload := jsonPayload(t, saga.Decision{By: by, Note: note})
		dc := converter.GetDefaultDataConverter()

		var arg saga.Decision
		if err := dc.FromPayload(payload, &arg); err != nil {
			t.Fatalf("the update's argument does not decode: %v", err)
		}
		update := normalized(arg)
		checkNormalized(t, update, "an update")

		var raw json.RawMessage
		if err := dc.FromPayload(payload, &raw); err != nil {
			t.Fatalf("the signal's payload does not decode: %v", err)
		}
		signal, err := DecodeDecision(raw)
		if err != nil || signal != update {
			t.Fatalf("the signal gives %+q, %v; the update %+q", signal, err, update)
		}
		checkRoundTrip(t, update)
	})
}

// FuzzWaitSettled drives the decoding of the wait-settled update's argument, a
// saga.Duration, and the bound the handler puts on it. Properties: no panic; a decoded
// duration round-trips through Temporal's data converter; the wait is between 0 and
// maxWait.
func FuzzWaitSettled(f *testing.F) {
	for _, s := range []string{
		`"10s"`, `"0s"`, `"-1h"`, `"30.000000001s"`, `"1.5h"`, `""`, `"soon"`, `null`,
		`10000000000`, `-9223372036854775808`, `9223372036854775807`, `9223372036854775808`,
		`1e9`, `1.5`, `"9223372036854775807ns"`, `"-2562047h47m16.854775808s"`, `"2562048h"`,
		`"\u0000"`, `{}`, `["10s"]`, `true`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var wait saga.Duration
		if err := json.Unmarshal(payload, &wait); err != nil {
			return
		}
		d := min(max(time.Duration(wait), 0), maxWait)
		if d < 0 || d > maxWait {
			t.Fatalf("%s bounds to %v", payload, d)
		}
		var back saga.Duration
		if err := converter.GetDefaultDataConverter().FromPayload(jsonPayload(t, wait), &back); err != nil || back != wait {
			t.Fatalf("%s decodes to %v, which round-trips to %v, %v", payload, time.Duration(wait), time.Duration(back), err)
		}
	})
}
