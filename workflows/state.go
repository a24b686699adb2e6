package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/saga"
)

// normalized returns d as the order records it: control characters (a newline typed on
// the CLI, say) become spaces, surrounding blanks go, and each field is cut to its limit
// (domain.By, domain.Note). Everything the saga passes on to a service is built from
// normalized decisions.
func normalized(d saga.Decision) saga.Decision {
	return saga.Decision{By: domain.By.Clean(d.By), Note: domain.Note.Clean(d.Note)}
}

// DecodeDecision reads a signal's payload: a JSON object with the fields of Decision and
// no others, or nothing (an empty decision). It returns the decision normalized, or an
// error saying what is wrong with the payload.
func DecodeDecision(payload []byte) (saga.Decision, error) {
	var d saga.Decision
	// JSON's white space only: anything else around the object is refused below.
	if trimmed := bytes.Trim(payload, " \t\r\n"); len(trimmed) == 0 || string(trimmed) == "null" {
		return d, nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	// encoding/json is deterministic; workflowcheck follows its reflection into the runtime.
	err := dec.Decode(&d) //workflowcheck:ignore
	if err != nil {
		return saga.Decision{}, fmt.Errorf(`want {"by": "...", "note": "..."}: %w`, err)
	}
	// Nothing may follow the object: not another value, nor a stray ']' or '}' (which
	// dec.More would let through).
	_, end := dec.Token() //workflowcheck:ignore
	if !errors.Is(end, io.EOF) {
		return saga.Decision{}, errors.New(`want a single {"by": "...", "note": "..."} object`)
	}
	return normalized(d), nil
}
