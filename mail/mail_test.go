package mail_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/mail"
	"github.com/kirim-portal/portal/mail/mailtest"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

func setup(t *testing.T) (*store.DB, *mailtest.Mailpit, *mail.Worker) {
	t.Helper()
	master, _ := secret.ParseKey(secret.GenerateKey())
	keys, _ := secret.NewKeyring(master)
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mp := mailtest.Start(t)
	smtp, err := mail.ParseURL(mp.URL())
	if err != nil {
		t.Fatal(err)
	}
	w := &mail.Worker{DB: db, Sender: smtp, FromName: "Toko Platform", From: "onboarding@platform.test",
		MaxAttempts: 3, Backoff: func(int) time.Duration { return 0 }}
	return db, mp, w
}

func queue(t *testing.T, db *store.DB, to, subject string) *store.Email {
	t.Helper()
	e, err := db.QueueEmail(context.Background(), store.Email{Kind: "setup_link", To: to, Subject: subject,
		HTML: "<p>Hello <strong>there</strong></p>", Text: "Hello there", MessageID: "<" + strings.ReplaceAll(subject, " ", "") + "." + to + ">"},
		store.Event{Kind: store.EventEmailQueued})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDeliver(t *testing.T) {
	ctx := context.Background()
	db, mp, w := setup(t)
	e := queue(t, db, "owner@shop.test", "Connect your WhatsApp")
	if n, err := w.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("tick: %d %v", n, err)
	}
	msgs := mp.WaitFor(1, 5*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := mp.Message(msgs[0].ID)
	if m.Subject != "Connect your WhatsApp" || m.From.Name != "Toko Platform" || m.To[0].Address != "owner@shop.test" ||
		!strings.Contains(m.HTML, "<strong>there</strong>") || !strings.Contains(m.Text, "Hello there") {
		t.Fatalf("message %+v", m)
	}
	if "<"+m.MessageID+">" != e.MessageID {
		t.Fatalf("Message-ID %q, want %q", m.MessageID, e.MessageID)
	}
	got, _ := db.EmailByID(ctx, e.ID)
	if got.Status != store.EmailSent || got.SentAt == nil {
		t.Fatalf("status %s", got.Status)
	}
	if n, _ := w.Tick(ctx); n != 0 {
		t.Fatal("a sent email was sent again")
	}
}

// TestSMTPDownThenBack: nothing is lost while the server is down, and nothing doubles
// when it comes back.
func TestSMTPDownThenBack(t *testing.T) {
	ctx := context.Background()
	db, mp, w := setup(t)
	mp.Stop()
	e := queue(t, db, "owner@shop.test", "While down")
	w.Tick(ctx)
	got, _ := db.EmailByID(ctx, e.ID)
	if got.Status != store.EmailQueued || got.Attempts != 1 || got.LastError == "" {
		t.Fatalf("after a failed attempt: %+v", got)
	}
	mp.Start()
	w.Tick(ctx)
	w.Tick(ctx)
	if msgs := mp.WaitFor(1, 5*time.Second); len(msgs) != 1 {
		t.Fatalf("%d messages after SMTP came back, want exactly 1", len(msgs))
	}
	got, _ = db.EmailByID(ctx, e.ID)
	if got.Status != store.EmailSent {
		t.Fatalf("status %s", got.Status)
	}
	time.Sleep(200 * time.Millisecond)
	if msgs := mp.Messages(); len(msgs) != 1 {
		t.Fatalf("%d messages in the end", len(msgs))
	}
}

func TestPermanentAndTemporaryRefusals(t *testing.T) {
	ctx := context.Background()
	db, mp, w := setup(t)
	t.Run("5xx fails at once with the reason", func(t *testing.T) {
		mp.Chaos(550)
		e := queue(t, db, "gone@shop.test", "Refused")
		w.Tick(ctx)
		got, _ := db.EmailByID(ctx, e.ID)
		if got.Status != store.EmailFailed || !strings.Contains(got.LastError, "550") || got.Attempts != 1 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("4xx is retried, then given up", func(t *testing.T) {
		mp.Chaos(451)
		e := queue(t, db, "later@shop.test", "Greylisted")
		for range 5 {
			w.Tick(ctx)
		}
		got, _ := db.EmailByID(ctx, e.ID)
		if got.Status != store.EmailFailed || got.Attempts != 3 || !strings.Contains(got.LastError, "gave up after 3 attempts") {
			t.Fatalf("%+v", got)
		}
	})
	mp.Chaos(0)
	if len(mp.Messages()) != 0 {
		t.Fatal("a refused message arrived")
	}
}

// TestNoHeaderInjection: a line break in any header value is refused outright.
func TestNoHeaderInjection(t *testing.T) {
	ctx := context.Background()
	db, mp, w := setup(t)
	for _, tc := range []struct{ name, to, subject, fromName string }{
		{"subject", "a@shop.test", "Hello\r\nBcc: victim@evil.test", "Shop"},
		{"recipient", "a@shop.test\r\nBcc: victim@evil.test", "Hello", "Shop"},
		{"sender name", "a@shop.test", "Hello", "Shop\nBcc: victim@evil.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.FromName = tc.fromName
			e := queue(t, db, tc.to, tc.subject)
			w.Tick(ctx)
			got, _ := db.EmailByID(ctx, e.ID)
			if got.Status != store.EmailFailed || !strings.Contains(got.LastError, "line break") {
				t.Fatalf("%+v", got)
			}
		})
	}
	w.FromName = "Shop"
	queue(t, db, "ok@shop.test", "Fine")
	w.Tick(ctx)
	msgs := mp.WaitFor(1, 5*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if bcc := mp.Message(msgs[0].ID).Bcc; len(bcc) != 0 {
		t.Fatalf("a Bcc got through: %v", bcc)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want string
	}{
		{"smtp://user:pass@mail.example.com", true, "mail.example.com:587"},
		{"smtp://mail.example.com:2525?tls=opportunistic", true, "mail.example.com:2525"},
		{"smtps://user:pass@mail.example.com", true, "mail.example.com:465"},
		{"smtp://localhost:1025?tls=none", true, "localhost:1025"},
		{"smtp://mail.example.com?tls=sometimes", false, ""},
		{"http://mail.example.com", false, ""},
		{"smtp://", false, ""},
	} {
		s, err := mail.ParseURL(tc.in)
		if (err == nil) != tc.ok || (tc.ok && s.String() != tc.want) {
			t.Errorf("%s: %v %v", tc.in, s, err)
		}
		if s != nil && strings.Contains(s.String(), "pass") {
			t.Errorf("%s: password in %s", tc.in, s)
		}
	}
}
