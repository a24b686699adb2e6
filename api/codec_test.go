package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ordersaga/ordersaga/internal/codec"
)

func newTestCodec(t *testing.T, id string) *codec.Codec {
	t.Helper()
	c, err := codec.Parse(codec.NewKey(id))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testCodecConfig serves a codec server, so that the document's codec routes are there.
func testCodecConfig(t *testing.T) CodecConfig {
	return CodecConfig{Codec: newTestCodec(t, "k1")}
}

// codecCall sends one request to the codec server of an API built with cc.
func codecCall(t *testing.T, cc CodecConfig, method, path, body string, headers ...string) *http.Response {
	t.Helper()
	h := New(Config{OperatorTokens: []string{"op"}, Codec: cc}, Deps{Orders: &fakeOrders{}, Catalog: &fakeCatalog{}},
		slog.New(slog.DiscardHandler))
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// sealedDoc is a Payloads document holding v sealed by c.
func sealedDoc(t *testing.T, c *codec.Codec, v any) string {
	t.Helper()
	p, err := c.DataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

func TestCodecServer(t *testing.T) {
	c := newTestCodec(t, "k1")
	cc := CodecConfig{Codec: c, AllowOrigins: []string{"http://localhost:8233"}}
	doc := sealedDoc(t, c, map[string]string{"line1": "12 Analytical Row"})
	op := []string{"Authorization", "Bearer op"}

	t.Run("decode opens what the key sealed, for an operator", func(t *testing.T) {
		resp := codecCall(t, cc, http.MethodPost, "/codec/decode", doc, op...)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("decode: %d %s", resp.StatusCode, body)
		}
		var out commonpb.Payloads
		if err := protojson.Unmarshal(body, &out); err != nil || len(out.Payloads) != 1 {
			t.Fatalf("decode answered %s (%v)", body, err)
		}
		var got map[string]string
		if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &got); err != nil || got["line1"] != "12 Analytical Row" {
			t.Errorf("decoded %v (%v)", got, err)
		}
	})
	t.Run("encode seals, so that the workers open it", func(t *testing.T) {
		p, _ := converter.GetDefaultDataConverter().ToPayload("approve")
		plain, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
		resp := codecCall(t, cc, http.MethodPost, "/codec/encode", string(plain), op...)
		body, _ := io.ReadAll(resp.Body)
		var out commonpb.Payloads
		if err := protojson.Unmarshal(body, &out); err != nil || len(out.Payloads) != 1 {
			t.Fatalf("encode answered %d %s (%v)", resp.StatusCode, body, err)
		}
		if enc := string(out.Payloads[0].Metadata[codec.MetadataEncoding]); enc != codec.Encoding {
			t.Errorf("encode returned a payload encoded %q", enc)
		}
		var got string
		if err := c.DataConverter().FromPayload(out.Payloads[0], &got); err != nil || got != "approve" {
			t.Errorf("the sealed payload opens to %q (%v)", got, err)
		}
	})
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"without a token: 401", nil, http.StatusUnauthorized},
		{"with a wrong token: 403", []string{"Authorization", "Bearer nope"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/codec/decode", "/codec/encode"} {
				resp := codecCall(t, cc, http.MethodPost, path, doc, tc.headers...)
				if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: %d %s, want %d problem", path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
				}
			}
		})
	}
	t.Run("DEV_MODE's open codec needs no token", func(t *testing.T) {
		open := cc
		open.Open = true
		if resp := codecCall(t, open, http.MethodPost, "/codec/decode", doc); resp.StatusCode != http.StatusOK {
			t.Errorf("open decode: %d", resp.StatusCode)
		}
	})
	t.Run("a payload of a key not held is a 422 problem", func(t *testing.T) {
		other := sealedDoc(t, newTestCodec(t, "k9"), "x")
		resp := codecCall(t, cc, http.MethodPost, "/codec/decode", other, op...)
		body, _ := io.ReadAll(resp.Body)
		if p := problemOf(t, body); resp.StatusCode != http.StatusUnprocessableEntity || p.Code != "PayloadSealed" || !strings.Contains(p.Detail, `"k9"`) {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("a body that is not a Payloads document is a 400 problem", func(t *testing.T) {
		for _, body := range []string{"", "[]", `{"payloads":"x"}`, "{"} {
			resp := codecCall(t, cc, http.MethodPost, "/codec/decode", body, op...)
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || problemOf(t, data).Code == "" {
				t.Errorf("body %q: %d %s", body, resp.StatusCode, data)
			}
		}
	})
	t.Run("the Web UI's origin may call it from a browser; others may not", func(t *testing.T) {
		pre := []string{"Origin", "http://localhost:8233", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type,x-namespace"}
		resp := codecCall(t, cc, http.MethodOptions, "/codec/decode", "", pre...)
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "http://localhost:8233" ||
			h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Namespace") {
			t.Errorf("preflight from the UI: %d %v", resp.StatusCode, h)
		}
		if h := codecCall(t, cc, http.MethodPost, "/codec/decode", doc, append(op, "Origin", "http://localhost:8233")...).Header; h.Get("Access-Control-Allow-Origin") != "http://localhost:8233" {
			t.Errorf("the UI's POST got no CORS answer: %v", h)
		}
		pre[1] = "http://evil.example"
		if h := codecCall(t, cc, http.MethodOptions, "/codec/decode", "", pre...).Header; h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("another origin was allowed: %v", h)
		}
	})
	t.Run("without keys there is no codec server", func(t *testing.T) {
		if resp := codecCall(t, CodecConfig{}, http.MethodPost, "/codec/decode", doc, op...); resp.StatusCode != http.StatusNotFound {
			t.Errorf("decode without a codec: %d", resp.StatusCode)
		}
	})
}
