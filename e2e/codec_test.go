package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/codec"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/payment"
)

// payloadKeys are a run's PAYLOAD_KEYS: the stacks seal with one; the rotation test
// moves its own stack from a first key to a second.
type payloadKeys struct {
	stacks, first, second string
}

func newPayloadKeys() payloadKeys {
	return payloadKeys{stacks: codec.NewKey("e2e"), first: codec.NewKey("rot1"), second: codec.NewKey("rot2")}
}

// all lists every key, as PAYLOAD_KEYS.
func (k payloadKeys) all() string { return k.stacks + "," + k.first + "," + k.second }

// openPayloads makes the tests' Temporal client open (and seal) payloads in its gRPC
// calls, as the temporal CLI does with a codec endpoint: what the tests read (results,
// queries, memos, summaries, histories) is plaintext, while the stacks' processes seal
// with their data converters.
func openPayloads(keys string) temporalx.Option {
	return func(o *client.Options) error {
		c, err := codec.Parse(keys)
		if err != nil {
			return err
		}
		icpt, err := converter.NewPayloadCodecGRPCClientInterceptor(converter.PayloadCodecGRPCClientInterceptorOptions{
			Codecs: []converter.PayloadCodec{c},
		})
		if err != nil {
			return err
		}
		o.ConnectionOptions.DialOptions = append(o.ConnectionOptions.DialOptions, grpc.WithChainUnaryInterceptor(icpt))
		return nil
	}
}

// payloadData returns the "data" of every payload in the temporal CLI's JSON output,
// decoded from base64 and joined: what the payloads hold, in plaintext when the CLI
// opened them through a codec, as ciphertext when it did not.
func payloadData(t *testing.T, out []byte) string {
	t.Helper()
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "data" {
					data, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						t.Fatalf("a payload's data is not base64: %v", err)
					}
					b.Write(data)
					b.WriteByte('\n')
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var doc any
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the CLI's output is not JSON: %v\n%s", err, out)
		}
		walk(doc)
	}
	if b.Len() == 0 {
		t.Fatalf("the CLI's output holds no payloads:\n%s", out)
	}
	return b.String()
}

// TestOrderDataIsSealedInTemporal places an order on a stack sealing with a first key,
// rotates to a second while the order waits for approval, and reads the order's history
// with the temporal CLI: without the codec, no address, payment method or operator note
// shows; through the API's codec server, all of them do, from both keys' payloads.
func TestOrderDataIsSealedInTemporal(t *testing.T) {
	s, err := newStack("sealed", env.tempAddr, []string{"PAYLOAD_KEYS=" + env.keys.first})
	if err != nil {
		t.Fatal(err)
	}
	cust := s.newCustomer(t, 500000)
	req := orderRequest(cust, payment.MethodVisa, "GB", "SKU-LAPTOP:1")
	req.ShippingAddress.Name, req.ShippingAddress.Line1 = "Sherlock Sealed", "221B Ciphertext Street"
	note := "sealed-note-" + randomHex(4)
	secrets := []string{req.ShippingAddress.Name, req.ShippingAddress.Line1, req.PaymentMethod, note}

	v := s.place(t, req)
	if v.Status != saga.StatusAwaitingApproval {
		t.Fatalf("a $1,200 order is %s, want AWAITING_APPROVAL", v.Status)
	}
	wid := saga.WorkflowID(v.OrderID)
	cli := func(t *testing.T, withCodec bool, args ...string) string {
		t.Helper()
		args = append(args, "--address", env.tempAddr, "--namespace", "default", "-o", "json")
		if withCodec {
			args = append(args, "--codec-endpoint", s.apiURL+"/codec", "--codec-auth", "Bearer "+operatorToken)
		}
		cmd := exec.Command(env.temporal, args...)
		cmd.Env = append(os.Environ(), "TEMPORAL_CODEC_ENDPOINT=", "TEMPORAL_CODEC_AUTH=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("temporal %v: %v\n%s", args, err, out)
		}
		return string(out) + payloadData(t, out)
	}
	sealedBy := func(out, keyID string) bool {
		return strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(keyID)))
	}

	before := cli(t, false, "workflow", "show", "--workflow-id", wid)
	described := cli(t, false, "workflow", "describe", "--workflow-id", wid)
	for _, sec := range secrets[:3] {
		if strings.Contains(before, sec) || strings.Contains(described, sec) {
			t.Errorf("without the codec, the history or the description shows %q", sec)
		}
	}
	if !sealedBy(before, "rot1") {
		t.Errorf("no payload names key rot1:\n%s", before)
	}

	// Rotate: the second key seals from now on, the first still opens.
	s.mu.Lock()
	s.env = append(s.env, "PAYLOAD_KEYS="+env.keys.second+","+env.keys.first)
	s.mu.Unlock()
	if err := s.api.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.worker.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.startWorker(); err != nil {
		t.Fatal(err)
	}
	if err := s.startAPI(); err != nil {
		t.Fatal(err)
	}

	r := s.call(t, http.MethodPost, "/v1/orders/"+v.OrderID+"/approve", app.Decision{By: "alice", Note: note},
		"Authorization", "Bearer "+operatorToken)
	if r.status != http.StatusOK {
		t.Fatalf("approve after the rotation: %d %s", r.status, r.body)
	}
	done := s.await(t, v.OrderID, 20*time.Second, "completion", func(v app.OrderView) bool { return v.Status.Final() })
	if done.Status != saga.StatusCompleted {
		t.Fatalf("after the rotation the order is %s, want COMPLETED", done.Status)
	}

	after := cli(t, false, "workflow", "show", "--workflow-id", wid)
	for _, sec := range secrets {
		if strings.Contains(after, sec) {
			t.Errorf("without the codec, the history shows %q", sec)
		}
	}
	if !sealedBy(after, "rot1") || !sealedBy(after, "rot2") {
		t.Errorf("the history should hold payloads of both keys, rot1 before the rotation and rot2 after")
	}
	opened := cli(t, true, "workflow", "show", "--workflow-id", wid)
	for _, sec := range secrets {
		if !strings.Contains(opened, sec) {
			t.Errorf("through the codec server, the history shows no %q:\n%s", sec, opened)
		}
	}
	if d := cli(t, true, "workflow", "describe", "--workflow-id", wid); !strings.Contains(d, "Order "+v.OrderID) {
		t.Errorf("through the codec server, the description has no summary:\n%s", d)
	}

	// Failures are sealed too: their messages may quote order data.
	declined := s.place(t, orderRequest(cust, payment.MethodDeclined, "GB", "SKU-BOOK:1"))
	if declined.Status != saga.StatusRejected {
		t.Fatalf("a declined card's order is %s, want REJECTED", declined.Status)
	}
	const message = "the card was declined"
	if out := cli(t, false, "workflow", "show", "--workflow-id", saga.WorkflowID(declined.OrderID)); strings.Contains(out, message) {
		t.Errorf("without the codec, the history shows the failure's message %q", message)
	}
	if out := cli(t, true, "workflow", "show", "--workflow-id", saga.WorkflowID(declined.OrderID)); !strings.Contains(out, message) {
		t.Errorf("through the codec server, the history has no failure message %q", message)
	}
}
