// Package codec encrypts what ordersaga stores in Temporal: every payload the SDK writes
// (workflow inputs and results, activity arguments and results, signals, updates, queries,
// memos, and the Web UI's summaries and details) is sealed with AES-256-GCM before it
// leaves the process, so Temporal's persistence and anyone reading it see ciphertext.
// Search attributes are not payloads the codec sees: they hold IDs, statuses and amounts
// only.
//
// A payload names the key that sealed it (metadata "encryption-key-id"), so keys rotate by
// listing a new key first (it seals from then on) and keeping the old ones after it (they
// still open what they sealed). Operators read decrypted payloads through the API's codec
// server, from the Web UI and the temporal CLI (--codec-endpoint).
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of a sealed payload.
const (
	// Encoding marks a payload this package sealed.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key that sealed it.
	MetadataKeyID = "encryption-key-id"
	// MetadataEncoding is the SDK's metadata key for a payload's encoding.
	MetadataEncoding = "encoding"
)

// ErrCannotOpen is returned by Decode for a sealed payload it cannot open: the key that
// sealed it is not held, or the payload was altered.
var ErrCannotOpen = errors.New("cannot open a sealed payload")

// Key is one AES-256 key and its ID.
type Key struct {
	ID     string
	Secret []byte // 32 bytes
}

// Codec seals payloads with its first key and opens them with whichever key sealed them.
// It implements converter.PayloadCodec.
type Codec struct {
	active string
	ids    []string // in PAYLOAD_KEYS's order
	aeads  map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a Codec sealing with keys[0]; every key opens what it sealed.
func New(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("no payload key")
	}
	c := &Codec{active: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if k.ID == "" || strings.ContainsAny(k.ID, ":,") {
			return nil, fmt.Errorf("payload key ID %q: want a non-empty name without ':' or ','", k.ID)
		}
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("payload key %q: %d bytes, want 32 (AES-256)", k.ID, len(k.Secret))
		}
		if _, dup := c.aeads[k.ID]; dup {
			return nil, fmt.Errorf("payload key %q is listed twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, err
		}
		if c.aeads[k.ID], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
		c.ids = append(c.ids, k.ID)
	}
	return c, nil
}

// Parse reads PAYLOAD_KEYS, "id:base64key,id:base64key" with the sealing key first, and
// returns the codec of its keys, or nil when it holds none.
func Parse(s string) (*Codec, error) {
	keys, err := parseKeys(s)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	return New(keys)
}

// parseKeys reads the keys of PAYLOAD_KEYS.
func parseKeys(s string) ([]Key, error) {
	var keys []Key
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, b64, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("payload key %q: want id:base64key", redact(item))
		}
		secret, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("payload key %q: the key is not base64: %w", id, err)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return keys, nil
}

// NewKey returns a random key with id, formatted for PAYLOAD_KEYS.
func NewKey(id string) string {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return id + ":" + base64.StdEncoding.EncodeToString(secret)
}

// KeepKey returns the key kept in file, or, when there is no file yet, makes a key with
// id (NewKey) and keeps it there (mode 0600) so that it outlives restarts. It is for
// development stacks, whose Temporal state on disk must stay readable; production keys
// come from a secret store.
func KeepKey(file, id string) (string, error) {
	b, err := os.ReadFile(file)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	key := NewKey(id)
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep the payload key: %w", err)
	}
	return key, nil
}

func redact(s string) string {
	if id, _, ok := strings.Cut(s, ":"); ok {
		return id + ":…"
	}
	return "…"
}

// ActiveKeyID is the ID of the key that seals.
func (c *Codec) ActiveKeyID() string { return c.active }

// KeyIDs are the IDs of the keys, the sealing one first.
func (c *Codec) KeyIDs() []string { return slices.Clone(c.ids) }

// Encode seals each payload: the whole payload (its metadata and data) becomes the
// ciphertext of a new one that names the key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("seal a payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{MetadataEncoding: []byte(Encoding), MetadataKeyID: []byte(c.active)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(c.active)),
		}
	}
	return out, nil
}

// Decode opens each payload it sealed, with the key named in it; other payloads pass as
// they are (those written before encryption was switched on).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("%w: it is sealed with key %q, which PAYLOAD_KEYS does not hold", ErrCannotOpen, id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, fmt.Errorf("%w: it is too short", ErrCannotOpen)
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("%w: key %q does not open it (%v)", ErrCannotOpen, id, err)
		}
		var inner commonpb.Payload
		if err := proto.Unmarshal(plain, &inner); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCannotOpen, err)
		}
		out[i] = &inner
	}
	return out, nil
}

// DataConverter is the SDK's default converter with payloads sealed by c.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
