// Command webhook-receiver accepts OctoStore webhook deliveries on :8080 and
// refuses any whose signatures or timestamp do not check out.
//
//	OCTOSTORE_WEBHOOK_SECRET='the webhook secret' go run .
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	secret := os.Getenv("OCTOSTORE_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set OCTOSTORE_WEBHOOK_SECRET to the webhook's secret")
	}
	log.Fatal(http.ListenAndServe(":8080", handler(secret, time.Now)))
}

// handler answers 204 to a delivery signed with secret and sent within 5
// minutes of now(), and 401 to anything else.
func handler(secret string, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		if !verify(secret, body, r.Header.Get("X-OctoStore-Signature")) ||
			!verifyTimestamped(secret, id, ts, body, r.Header.Get("webhook-signature")) ||
			!fresh(ts, now()) {
			http.Error(w, "signature or timestamp does not check out", http.StatusUnauthorized)
			return
		}
		// Delivery is at least once: skip an X-OctoStore-Delivery seen before.
		log.Printf("delivery %s: %s", r.Header.Get("X-OctoStore-Delivery"), body)
		w.WriteHeader(http.StatusNoContent)
	})
}

// verify reports whether header (X-OctoStore-Signature) is "sha256=" and
// the hex HMAC-SHA256 of body keyed with secret.
func verify(secret string, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		return false
	}
	return hmac.Equal(got, sign(secret, body))
}

// verifyTimestamped reports whether header (webhook-signature) holds a
// "v1," signature of id.timestamp.body; it binds the timestamp to the body.
func verifyTimestamped(secret, id, timestamp string, body []byte, header string) bool {
	want := sign(secret, []byte(id+"."+timestamp+"."+string(body)))
	for _, s := range strings.Fields(header) {
		got, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "v1,"))
		if strings.HasPrefix(s, "v1,") && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// fresh reports whether timestamp (Unix seconds) is within 5 minutes of now.
func fresh(timestamp string, now time.Time) bool {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	return now.Sub(time.Unix(sec, 0)).Abs() < 5*time.Minute
}

func sign(secret string, msg []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(msg)
	return mac.Sum(nil)
}
