package kirim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
)

// FuzzVerifyWebhook feeds the signature header parser any header and body: it never
// panics, never accepts a signature made with another secret, and always accepts the
// one Kirim would send.
func FuzzVerifyWebhook(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"customer.updated","data":{}}`)
	f.Add(kirim.SignWebhook(now, body, "whsec_a"), body)
	f.Add("t=1800000000,v1=00,v1=zz,,=,t=", []byte("{}"))
	f.Add("v1="+kirim.SignWebhook(now, body, "whsec_a")[14:], body)
	f.Add("t=99999999999999999999999,v1=ab", body)
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		secrets := []string{"whsec_a", "whsec_b"}
		h := http.Header{"X-Kirim-Signature": {header}}
		err := kirim.VerifyWebhook(h, body, secrets, now, kirim.WebhookTolerance)
		if err == nil {
			// Accepted: it must carry a v1 made with one of the secrets.
			if kirim.VerifyWebhook(h, body, []string{"whsec_other"}, now, kirim.WebhookTolerance) == nil {
				t.Fatalf("header %q verifies under a secret it was not made with", header)
			}
		}
		good := http.Header{"X-Kirim-Signature-256": {kirim.SignWebhook(now, body, "whsec_b")}}
		if err := kirim.VerifyWebhook(good, body, secrets, now, kirim.WebhookTolerance); err != nil {
			t.Fatalf("Kirim's own signature refused: %v", err)
		}
	})
}
