package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/schemas"
)

// Defaults and bounds.
const (
	// DefaultTimeout bounds one request when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// MaxResponseBytes bounds one response body: schemas are small, and
	// a registry (or something posing as one) cannot make the producer
	// buffer more.
	MaxResponseBytes = 8 << 20
)

// Config configures a [Client]. Only URL is required.
type Config struct {
	// URL is the registry's Confluent-compatible API root, for example
	// "https://registry:8081" or Apicurio's
	// "http://apicurio:8080/apis/ccompat/v7". It must hold no credentials.
	URL string
	// Username and Password, when Username is set, are sent as HTTP basic
	// auth.
	Username, Password string
	// TLS configures an https URL: CAs to trust, a client certificate.
	// Only CAFile, CertFile and KeyFile are used. Default: system roots.
	TLS publish.TLSConfig
	// Timeout bounds each request, body included. Default: 10s.
	Timeout time.Duration
}

// String describes c without the password.
func (c Config) String() string {
	auth := "none"
	if c.Username != "" {
		auth = "basic user " + strconv.Quote(c.Username)
	}
	return fmt.Sprintf("registry %s (auth %s, timeout %s)", c.URL, auth, c.Timeout)
}

// Client talks to one Schema Registry. It is safe for concurrent use.
type Client struct {
	cfg Config
	sr  *sr.Client
}

// New returns a client of the registry at cfg.URL. It makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("schema registry: no URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t := cfg.TLS
	if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" {
		t.Enabled = true
		tc, err := publish.Config{TLS: t}.TLSClientConfig()
		if err != nil {
			return nil, fmt.Errorf("schema registry: %w", err)
		}
		tr.TLSClientConfig = tc
	}
	opts := []sr.ClientOpt{
		sr.URLs(cfg.URL),
		sr.HTTPClient(&http.Client{Timeout: cfg.Timeout, Transport: limitBody{tr}}),
		sr.UserAgent("jelou-producer"),
	}
	if cfg.Username != "" {
		opts = append(opts, sr.BasicAuth(cfg.Username, cfg.Password))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry: %w", err)
	}
	return &Client{cfg: cfg, sr: cl}, nil
}

// limitBody bounds every response body to MaxResponseBytes: reading more
// fails with an error.
type limitBody struct{ rt http.RoundTripper }

func (l limitBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, MaxResponseBytes)
	return resp, nil
}

// SR returns the franz-go client underneath, for requests this package
// does not wrap (tests set a subject's compatibility level with it).
func (c *Client) SR() *sr.Client { return c.sr }

// Subject returns the value subject of topic under the TopicNameStrategy:
// "<topic>-value".
func Subject(topic string) string { return topic + "-value" }

// SchemaURL returns the URL at which the registry serves the schema of id
// (GET <URL>/schemas/ids/<id>): what events name in their dataschema
// attribute when the registry is used. It holds no credentials.
func (c *Client) SchemaURL(id uint32) string {
	return c.cfg.URL + "/schemas/ids/" + strconv.FormatUint(uint64(id), 10)
}

// Draft07 is the "$schema" of the schemas this package registers.
//
// The files are written in draft 2020-12 but use no keyword that draft 7
// lacks or reads differently ($defs is reached by JSON pointer, $ref has
// only description beside it), so the same document under draft 7 accepts
// and rejects the same values. Registries check JSON Schema compatibility
// with draft 4 to 7 tooling: Apicurio 3.0 (everit) cannot determine the
// version of a 2020-12 document and answers 500 to every registration in a
// subject with a compatibility rule, and Apicurio 3.3 cannot resolve
// $defs. Under draft 7 its check works (measured: an optional data member
// added passes FORWARD_TRANSITIVE, a type change or a new required member
// is refused with 409).
const Draft07 = "http://json-schema.org/draft-07/schema#"

// Schema returns the JSON Schema registered for the record value in mode,
// as compact JSON with sorted keys: the v1 event file in structured mode,
// its data schema (schemas.Data) in binary mode, each with "$schema" set
// to [Draft07] and nothing else changed.
func Schema(mode event.Mode) (string, error) {
	var b []byte
	var err error
	switch mode {
	case event.Structured:
		b, err = schemas.FS.ReadFile(schemas.V1)
	case event.Binary:
		b, err = schemas.Data(schemas.V1)
	default:
		return "", fmt.Errorf("no schema for event mode %v", mode)
	}
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", fmt.Errorf("schema %s: %w", schemas.V1, err)
	}
	doc["$schema"] = Draft07
	out, err := json.Marshal(doc)
	return string(out), err
}

// RejectedError is a registry's refusal that no retry can change: the
// schema is incompatible with the subject's earlier versions under its
// compatibility level (409) or invalid (422), or the credentials were
// refused (401, 403). It is a configuration error: the process exits 2.
type RejectedError struct {
	// Subject is the subject the schema was looked up or registered in.
	Subject string
	// Status is the HTTP status, Code the registry's error_code.
	Status, Code int
	// Reason says what the refusal means, in a few words.
	Reason string
	// Err is the registry's answer.
	Err error
}

// Error returns "schema registry refused subject <s>: <reason>: <answer>".
func (e *RejectedError) Error() string {
	return fmt.Sprintf("schema registry refused subject %q: %s (HTTP %d, error code %d): %v", e.Subject, e.Reason, e.Status, e.Code, e.Err)
}

// Unwrap returns the registry's answer.
func (e *RejectedError) Unwrap() error { return e.Err }

// classify turns a registry error about subject into a *RejectedError when
// it is a refusal, and wraps it with op otherwise.
func classify(subject, op string, err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		reason := ""
		switch re.StatusCode {
		case http.StatusConflict:
			reason = "the schema is incompatible with the subject's registered versions under its compatibility level"
		case http.StatusUnprocessableEntity:
			reason = "the registry finds the schema invalid"
		case http.StatusUnauthorized:
			reason = "the credentials (SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD) were refused"
		case http.StatusForbidden:
			reason = "the user may not " + op + " in this subject"
		}
		if reason != "" {
			return &RejectedError{Subject: subject, Status: re.StatusCode, Code: re.ErrorCode, Reason: reason, Err: err}
		}
	}
	return fmt.Errorf("schema registry: %s subject %q: %w", op, subject, err)
}

// notFound reports whether err is the registry's 404: the subject or the
// schema in it does not exist.
func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// Registration is the outcome of [Client.Register] for one topic.
type Registration struct {
	// Topic and Subject name where the schema is.
	Topic, Subject string
	// ID is the schema id every value of the topic is framed with.
	ID uint32
	// Version is the subject's version holding the schema, when the
	// registry said (0 when it did not).
	Version int
	// Registered is true when this call added the schema to the subject,
	// false when it was there already.
	Registered bool
}

// Register makes sure schema (a JSON Schema, registered as schemaType
// JSON) is in the value subject of every topic, and returns, per topic in
// the order given (duplicates once), where it is. For each subject it
// first looks the schema up, so that a principal allowed only to read
// may use a schema registered beforehand, and otherwise registers it,
// which the registry checks against the subject's compatibility level.
// Each request is bounded by the configured timeout. The first failure
// stops it: a refusal is a [*RejectedError].
func (c *Client) Register(ctx context.Context, topics []string, schema string) ([]Registration, error) {
	s := sr.Schema{Schema: schema, Type: sr.TypeJSON}
	var out []Registration
	seen := map[string]bool{}
	for _, topic := range topics {
		if seen[topic] {
			continue
		}
		seen[topic] = true
		subject := Subject(topic)
		r := Registration{Topic: topic, Subject: subject}
		found, err := c.lookup(ctx, subject, s)
		switch {
		case err == nil:
			r.Version = found.Version
			if r.ID, err = schemaID(found.ID); err != nil {
				return out, classify(subject, "look up the schema in", err)
			}
		case notFound(err):
			id, err := c.register(ctx, subject, s)
			if err != nil {
				return out, err
			}
			r.ID, r.Registered = id, true
		default:
			return out, classify(subject, "look up the schema in", err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (c *Client) lookup(ctx context.Context, subject string, s sr.Schema) (sr.SubjectSchema, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return c.sr.LookupSchema(ctx, subject, s)
}

func (c *Client) register(ctx context.Context, subject string, s sr.Schema) (uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	id, err := c.sr.RegisterSchema(ctx, subject, s, -1, -1)
	if err != nil {
		return 0, classify(subject, "register the schema in", err)
	}
	u, err := schemaID(id)
	if err != nil {
		return 0, classify(subject, "register the schema in", err)
	}
	return u, nil
}

// schemaID checks an id the registry returned: the framing holds 1 to
// 2^32-1 (registries number from 1).
func schemaID(id int) (uint32, error) {
	if id <= 0 || id > math.MaxUint32 {
		return 0, fmt.Errorf("the registry returned schema id %d, which the framing cannot carry", id)
	}
	return uint32(id), nil
}

// Check is the read-only form of [Client.Register] for one topic, for the
// check command: it never registers. It returns the registration the
// subject already holds (Registered false), or, when the subject does not
// hold the schema, a zero ID and a nil error if the registry says that
// registering it would pass the subject's compatibility check (or the
// subject is empty), and a [*RejectedError] (409) if it would not.
func (c *Client) Check(ctx context.Context, topic, schema string) (Registration, error) {
	s := sr.Schema{Schema: schema, Type: sr.TypeJSON}
	subject := Subject(topic)
	r := Registration{Topic: topic, Subject: subject}
	found, err := c.lookup(ctx, subject, s)
	switch {
	case err == nil:
		r.Version = found.Version
		r.ID, err = schemaID(found.ID)
		if err != nil {
			return r, classify(subject, "look up the schema in", err)
		}
		return r, nil
	case !notFound(err):
		return r, classify(subject, "look up the schema in", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	res, err := c.sr.CheckCompatibility(ctx, subject, -1, s)
	switch {
	case notFound(err):
		return r, nil // no version yet: anything registers
	case err != nil:
		return r, classify(subject, "check the schema's compatibility in", err)
	case !res.Is:
		return r, &RejectedError{Subject: subject, Status: http.StatusConflict, Code: http.StatusConflict,
			Reason: "the schema is incompatible with the subject's registered versions under its compatibility level",
			Err:    fmt.Errorf("compatibility check: %s", strings.Join(res.Messages, "; "))}
	}
	return r, nil
}
