package codec_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/internal/codec"
)

func mustCodec(t *testing.T, keys string) *codec.Codec {
	t.Helper()
	c, err := codec.Parse(keys)
	if err != nil || c == nil {
		t.Fatalf("parse %q: %v", keys, err)
	}
	return c
}

// Sealed payloads hide their content and name their key; a rotated codec still opens
// what the old key sealed and seals with the new one.
func TestSealOpenRotate(t *testing.T) {
	old := codec.NewKey("k1")
	c1 := mustCodec(t, old)
	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"line1": "12 Analytical Row"})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := c1.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed[0].Data, []byte("Analytical")) || string(sealed[0].Metadata[codec.MetadataKeyID]) != "k1" {
		t.Fatalf("sealed payload shows its content or lacks its key ID: %v", sealed[0])
	}
	c2 := mustCodec(t, codec.NewKey("k2")+","+old)
	opened, err := c2.Decode(sealed)
	if err != nil || !bytes.Equal(opened[0].Data, p.Data) {
		t.Fatalf("the rotated codec opened %v, %v", opened, err)
	}
	again, _ := c2.Encode([]*commonpb.Payload{p})
	if string(again[0].Metadata[codec.MetadataKeyID]) != "k2" {
		t.Errorf("the rotated codec seals with %s, want k2", again[0].Metadata[codec.MetadataKeyID])
	}
	if _, err := c1.Decode(again); err == nil {
		t.Error("a codec without k2 opened a payload sealed with it")
	}
	tampered := &commonpb.Payload{Metadata: sealed[0].Metadata, Data: append([]byte{}, sealed[0].Data...)}
	tampered.Data[len(tampered.Data)-1] ^= 1
	if _, err := c1.Decode([]*commonpb.Payload{tampered}); err == nil {
		t.Error("a tampered payload opened")
	}
	plain, err := c1.Decode([]*commonpb.Payload{p})
	if err != nil || plain[0] != p {
		t.Errorf("a plaintext payload (written before encryption) did not pass through: %v", err)
	}
}

func TestBadKeys(t *testing.T) {
	for _, keys := range []string{"nokey", "k:notbase64!", "k:AAAA", "a,b:" + "AAAA"} {
		if _, err := codec.Parse(keys); err == nil {
			t.Errorf("keys %q accepted", keys)
		}
	}
	if _, err := codec.New(nil); err == nil {
		t.Error("a codec without keys was made")
	}
	if c, err := codec.Parse(" , "); c != nil || err != nil {
		t.Errorf("PAYLOAD_KEYS without keys gave %v, %v; want no codec and no error", c, err)
	}
	if got := mustCodec(t, codec.NewKey("k2")+","+codec.NewKey("k1")).KeyIDs(); !slices.Equal(got, []string{"k2", "k1"}) {
		t.Errorf("KeyIDs = %v, want [k2 k1]", got)
	}
}

// KeepKey makes a key once and gives the same one back on every later call.
func TestKeepKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "payload-keys")
	first, err := codec.KeepKey(file, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := codec.Parse(first); err != nil || c == nil || !slices.Equal(c.KeyIDs(), []string{"dev1"}) {
		t.Fatalf("kept key %q parses to %v, %v; want one key dev1", first, c, err)
	}
	again, err := codec.KeepKey(file, "other")
	if err != nil || again != first {
		t.Fatalf("second KeepKey = %q, %v; want the kept key", again, err)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", info, err)
	}
}
