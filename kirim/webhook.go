package kirim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTolerance is the largest clock skew accepted on a webhook signature.
const WebhookTolerance = 300 * time.Second

// Webhook verification errors.
var (
	ErrNoSignature      = errors.New("kirim: webhook has no signature header")
	ErrBadSignature     = errors.New("kirim: webhook signature does not match")
	ErrSignatureExpired = errors.New("kirim: webhook timestamp outside tolerance")
)

// SignWebhook returns the signature header value for body under each secret, as Kirim
// sends it: t=<unix>,v1=<hex>[,v1=<hex>...].
func SignWebhook(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	parts := []string{"t=" + ts}
	for _, s := range secrets {
		parts = append(parts, "v1="+hex.EncodeToString(mac(s, ts, body)))
	}
	return strings.Join(parts, ",")
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks the X-Kirim-Signature (or X-Kirim-Signature-256) header of a
// delivery against any of the active secrets, and that its timestamp is within
// tolerance of now in either direction.
func VerifyWebhook(h http.Header, body []byte, secrets []string, now time.Time, tolerance time.Duration) error {
	sig := h.Get("X-Kirim-Signature")
	if sig == "" {
		sig = h.Get("X-Kirim-Signature-256")
	}
	if sig == "" {
		return ErrNoSignature
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(sig, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignature
	}
	if skew := now.Sub(time.Unix(unix, 0)); skew > tolerance || skew < -tolerance {
		return ErrSignatureExpired
	}
	for _, s := range secrets {
		want := mac(s, ts, body)
		for _, got := range sigs {
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrBadSignature
}
