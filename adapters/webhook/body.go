package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/octostore/octostore/domain"
)

// payload is the JSON a receiver gets; the field order is the wire order.
// It carries no capability: no lease or session id, no owner, no metadata.
type payload struct {
	Seq          uint64 `json:"seq"`
	Type         string `json:"type"`
	Name         string `json:"name"`
	FencingToken uint64 `json:"fencing_token"`
	Holder       string `json:"holder"`
	At           string `json:"at"`
	ForcedBy     string `json:"forced_by,omitempty"`
}

// configPayload is the JSON of a config event: the key, the version written
// and the user that wrote it, never the value.
type configPayload struct {
	Seq     uint64 `json:"seq"`
	Type    string `json:"type"`
	Key     string `json:"key"`
	Version uint64 `json:"version"`
	By      string `json:"by"`
	At      string `json:"at"`
}

// flagPayload is the JSON of a flag event; it never carries the flag's
// settings.
type flagPayload struct {
	Seq     uint64 `json:"seq"`
	Type    string `json:"type"`
	Flag    string `json:"flag"`
	Version uint64 `json:"version"`
	By      string `json:"by"`
	At      string `json:"at"`
}

// atLayout is RFC 3339 in UTC with exactly three fractional digits.
const atLayout = "2006-01-02T15:04:05.000Z"

// Body returns the request body delivered for e: compact JSON with the
// fields seq, type, name, fencing_token, holder ("org/user", or the org
// alone when the holder records no user) and at (UTC, millisecond
// precision), in that order, then forced_by ("admin") on a lock.released
// that the admin's force release recorded, and on no other event; for a
// config event seq, type, key, version, by (the user) and at; for a flag
// event seq, type, flag, version, by and at. The signatures are computed
// over these bytes.
func Body(e domain.Event) []byte {
	switch {
	case e.Kind.Family() == "config":
		return marshal(configPayload{Seq: e.Seq, Type: string(e.Kind), Key: string(e.Name),
			Version: e.Version, By: e.By, At: e.At.UTC().Format(atLayout)})
	case e.Kind.IsFlag():
		return marshal(flagPayload{Seq: e.Seq, Type: string(e.Kind), Flag: string(e.Name), Version: e.Version,
			By: e.By, At: e.At.UTC().Format(atLayout)})
	}
	holder := string(e.Org)
	if u := e.Holder.User(); u != "" {
		holder += "/" + u
	}
	return marshal(payload{
		Seq:          e.Seq,
		Type:         string(e.Kind),
		Name:         string(e.Name),
		FencingToken: uint64(e.Token),
		Holder:       holder,
		At:           e.At.UTC().Format(atLayout),
		ForcedBy:     e.ForcedBy,
	})
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Strings and integers always marshal.
		panic("webhook: marshal body: " + err.Error())
	}
	return b
}

// signature is the X-OctoStore-Signature value: "sha256=" and the
// lowercase hex HMAC-SHA256 of body, keyed with the secret's bytes.
func signature(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, body))
}

// standardSignature is the Standard Webhooks webhook-signature value:
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body". The key is the
// secret's bytes as they are; a "whsec_" secret is not base64-decoded.
func standardSignature(secret, id, timestamp string, body []byte) string {
	msg := make([]byte, 0, len(id)+len(timestamp)+2+len(body))
	msg = append(append(append(append(append(msg, id...), '.'), timestamp...), '.'), body...)
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, msg))
}

func mac(secret string, msg []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(msg)
	return h.Sum(nil)
}
