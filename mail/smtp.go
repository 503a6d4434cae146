// Package mail delivers the portal's emails: an outbox table in the store, and a worker
// that sends what is due over SMTP with bounded concurrency and retries.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email ready to send.
type Message struct {
	FromName  string
	From      string
	To        string
	Subject   string
	HTML      string
	Text      string
	MessageID string
}

// Sender delivers messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// PermanentError is a refusal that retrying will not change (an SMTP 5xx, or a message
// the portal must not send).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is final.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// SMTP sends through one SMTP server.
type SMTP struct {
	host    string
	port    int
	user    string
	pass    string
	tls     gomail.TLSPolicy
	ssl     bool
	timeout time.Duration
}

// ParseURL reads SMTP_URL: smtp://user:pass@host:587 (STARTTLS required),
// smtps://user:pass@host:465 (implicit TLS), or smtp://host:25?tls=none for a plain
// connection, only when asked for (tls=opportunistic uses STARTTLS when offered).
func ParseURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("mail: SMTP URL must look like smtp://user:pass@host:587")
	}
	s := &SMTP{host: u.Hostname(), tls: gomail.TLSMandatory, timeout: 30 * time.Second}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.ssl = 465, true
	default:
		return nil, errors.New("mail: SMTP URL scheme must be smtp or smtps")
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil {
			return nil, errors.New("mail: bad SMTP port")
		}
	}
	switch u.Query().Get("tls") {
	case "", "starttls", "required":
	case "opportunistic":
		s.tls = gomail.TLSOpportunistic
	case "none":
		s.tls = gomail.NoTLS
	default:
		return nil, errors.New("mail: tls must be required, opportunistic or none")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	return s, nil
}

// String describes the server without its password.
func (s *SMTP) String() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// hasCRLF guards every header value: a CR or LF would let a value add headers.
func hasCRLF(values ...string) bool {
	for _, v := range values {
		if strings.ContainsAny(v, "\r\n") {
			return true
		}
	}
	return false
}

// Send delivers one message. A 5xx answer or a malformed message is a PermanentError;
// anything else (4xx, network) may pass on a retry.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if hasCRLF(m.FromName, m.From, m.To, m.Subject, m.MessageID) {
		return &PermanentError{errors.New("mail: header value contains a line break")}
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(m.FromName, m.From); err != nil {
		return &PermanentError{fmt.Errorf("mail: sender address: %w", err)}
	}
	if err := msg.To(m.To); err != nil {
		return &PermanentError{fmt.Errorf("mail: recipient address: %w", err)}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(strings.Trim(m.MessageID, "<>"))
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)

	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTLSPortPolicy(s.tls), gomail.WithTimeout(s.timeout)}
	if s.ssl {
		opts = append(opts, gomail.WithSSLPort(false))
	}
	if s.user != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if s.tls == gomail.NoTLS {
			// Asked for a plain connection: credentials travel in clear, as configured.
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return &PermanentError{fmt.Errorf("mail: %w", err)}
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return &PermanentError{fmt.Errorf("mail: %s refused: %w", s, err)}
		}
		return fmt.Errorf("mail: %s: %w", s, err)
	}
	return nil
}
