package jelou

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// Defaults applied to zero fields of [Config] by [Config.WithDefaults],
// which [New] calls.
const (
	DefaultBaseURL        = "https://api.jelou.ai"
	DefaultPageSize       = 100
	DefaultRateLimit      = 5.0
	DefaultRateBurst      = 1
	DefaultTimeout        = 30 * time.Second
	DefaultMaxBodyBytes   = 32 << 20
	DefaultMaxPages       = 50
	DefaultVersion        = "dev"
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxElapsed     = 2 * time.Minute
	DefaultMaxRetryAfter  = 5 * time.Minute
)

// Path is the endpoint the client calls, relative to Config.BaseURL.
const Path = "/v1/metrics/conversations/attended/external"

// Limiter hands out the request budget: Wait blocks until one request may
// be sent, or ctx ends. *rate.Limiter implements it; it must be safe for
// concurrent use.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Pauser is a Limiter that can stop handing out requests until a given
// instant. After a 429 whose Retry-After asks for a wait, the client calls
// Pause with the instant the wait ends (capped by
// RetryConfig.MaxRetryAfter), and every later Wait, of any caller sharing
// the limiter, blocks until then. Pause never brings an instant already set
// forward. A Config.Limiter without this method is given a pause of the
// client's own, which holds back that client's requests only.
type Pauser interface {
	Limiter
	Pause(until time.Time)
}

// Credentials identify the caller to Jelou. Both parts are required. Neither
// is printed or logged: String, GoString, Format and LogValue only say
// whether each part is set.
type Credentials struct {
	// ClientID is the client id issued by Jelou.
	ClientID string
	// ClientSecret is the client secret issued by Jelou.
	ClientSecret Secret
}

// String describes the credentials without revealing them.
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{ClientID:%s ClientSecret:%s}", setOrEmpty(c.ClientID), setOrEmpty(string(c.ClientSecret)))
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return "jelou." + c.String() }

// Format prints String (GoString for %#v) whatever the verb.
func (c Credentials) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c) }

// LogValue reports only whether each part is set.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", setOrEmpty(c.ClientID)),
		slog.String("client_secret", setOrEmpty(string(c.ClientSecret))),
	)
}

// MarshalText describes the credentials without revealing them.
func (c Credentials) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func setOrEmpty(s string) string {
	if s == "" {
		return "[empty]"
	}
	return "[set]"
}

// formatRedacted implements fmt.Formatter for types whose String and
// GoString are already safe: it never lets fmt reach their fields.
func formatRedacted(f fmt.State, verb rune, v interface {
	fmt.Stringer
	fmt.GoStringer
}) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(v.GoString()))
		return
	}
	_, _ = f.Write([]byte(v.String()))
}

// AuthScheme selects how credentials travel in the Authorization header.
// The vendor's page contradicts itself (see the package documentation).
type AuthScheme string

// The supported schemes.
const (
	// AuthBasic sends "Authorization: Basic base64(clientId:clientSecret)",
	// as the page's security scheme says. It is the default.
	AuthBasic AuthScheme = "basic"
	// AuthRaw sends "Authorization: clientId:clientSecret", as the page's
	// prose and curl example say.
	AuthRaw AuthScheme = "raw"
)

// RetryConfig bounds the retries of one logical request (one page). Zero
// fields mean the default.
type RetryConfig struct {
	// InitialInterval is the first wait before a retry; later waits grow
	// 1.5× each, jittered ±50%. Default: 500ms.
	InitialInterval time.Duration
	// MaxInterval caps one wait computed by the exponential policy.
	// Default: 30s.
	MaxInterval time.Duration
	// MaxElapsedTime bounds the whole request, retries included: no retry
	// starts whose wait would end after it. Default: 2m.
	MaxElapsedTime time.Duration
	// MaxRetryAfter caps how long a 429's Retry-After pauses the limiter
	// (see [Pauser]): a longer, overflowing or absurd value pauses it this
	// long. A pause that ends within MaxElapsedTime is waited out by the
	// retry loop; a longer one ends the request with the *RateLimitError,
	// and the caller's next request waits in the limiter until the pause
	// ends. Default: 5m.
	MaxRetryAfter time.Duration
	// MaxAttempts bounds the attempts per request, the first included.
	// Default: 0, no bound other than MaxElapsedTime.
	MaxAttempts int
}

// Config configures a [Client]. The zero value of every field means its
// default, stated on the field. Config redacts its credentials in String,
// GoString, Format and LogValue.
type Config struct {
	// BaseURL is the API's scheme and host, e.g. "https://api.jelou.ai".
	// Default: DefaultBaseURL.
	BaseURL string
	// Credentials are required.
	Credentials Credentials
	// AuthScheme is AuthBasic or AuthRaw. Default: AuthBasic.
	AuthScheme AuthScheme
	// PageSize is the limit query parameter. Default: 100.
	PageSize int
	// Location is the zone of response timestamps that carry no offset, and
	// the zone request timestamps are written in. Default: UTC.
	Location *time.Location
	// RateLimit is the client-side budget in requests per second, shared by
	// every request of the Client, retries included. Default: 5. Negative
	// disables the limiter. Ignored when Limiter is set.
	RateLimit float64
	// RateBurst is how many requests may go out at once. Default: 1.
	RateBurst int
	// Limiter, when set, replaces RateLimit and RateBurst, so that several
	// Clients using the same key can share one budget, or so that some
	// requests go before others. When it is a [Pauser], a 429's
	// Retry-After pauses it for every one of its callers. Default: nil.
	Limiter Limiter
	// Timeout bounds one HTTP attempt, from sending to reading the whole
	// body. Default: 30s.
	Timeout time.Duration
	// MaxBodyBytes caps the size of a response body. A successful response
	// over it fails with *BodyTooLargeError. Default: 32 MiB.
	MaxBodyBytes int64
	// BodyBudget, when set, is shared by every request reading a body: a
	// successful response's body takes its Content-Length (MaxBodyBytes
	// when unknown) from it before it is read, and gives it back once it
	// is decoded, so that the bodies in memory at once stay bounded.
	// Default: nil, no bound beyond MaxBodyBytes per body.
	BodyBudget Reserver
	// MaxPages bounds the pages fetched for one window by Pages and
	// FetchWindow. Default: DefaultMaxPages (50), which is also the
	// poller's split threshold and POLL_MAX_PAGES's default: a window that
	// needs more pages is better split than paged on.
	MaxPages int
	// Retry bounds retries. Zero fields mean their defaults.
	Retry RetryConfig
	// Version goes into the User-Agent, "jelou-producer/<Version>".
	// Default: "dev".
	Version string
	// HTTPClient sends the requests. Default: a client on a clone of
	// http.DefaultTransport that does not follow redirects (so neither the
	// POST body nor the credentials go to another place). Its Timeout
	// should be zero: Config.Timeout applies per attempt.
	HTTPClient *http.Client
	// Observer receives one call per HTTP attempt and per retry, for
	// metrics. Default: nil, nothing is observed.
	Observer Observer
	// Logger receives a debug record per attempt and a warning per retry,
	// never credentials nor bodies. Default: nil, nothing is logged.
	Logger *slog.Logger
}

// String describes the configuration without its credentials.
func (c Config) String() string {
	loc := "UTC"
	if c.Location != nil {
		loc = c.Location.String()
	}
	return fmt.Sprintf("jelou.Config{BaseURL:%s %s AuthScheme:%s PageSize:%d Location:%s RateLimit:%g RateBurst:%d Timeout:%s MaxBodyBytes:%d MaxPages:%d Version:%s}",
		RedactURL(c.BaseURL), c.Credentials, c.AuthScheme, c.PageSize, loc, c.RateLimit, c.RateBurst, c.Timeout, c.MaxBodyBytes, c.MaxPages, c.Version)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// Format prints String whatever the verb, so no verb reaches the fields.
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c) }

// LogValue lists the configuration without its credentials.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", RedactURL(c.BaseURL)),
		slog.Any("credentials", c.Credentials),
		slog.String("auth_scheme", string(c.AuthScheme)),
		slog.Int("page_size", c.PageSize),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Duration("timeout", c.Timeout),
	)
}

// RedactURL returns s with the credentials an operator may have put in a
// base URL masked: the password of user:password as "xxxxx" (as
// [url.URL.Redacted] does), a user name alone (a token) as "xxxxx" too. A
// text that does not parse as a URL has its whole userinfo masked, so that
// a validation message may quote it.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return userinfo.ReplaceAllString(s, "${1}xxxxx@")
	}
	if u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	u.User = url.User("xxxxx")
	return u.String()
}

// userinfo matches the userinfo of a URL-like text: what lies between "//"
// and the last "@" (a password may hold "/" or "@" when unescaped).
var userinfo = regexp.MustCompile(`(//)[^@]*@`)

// WithDefaults returns c with every zero field replaced by its Default
// constant (and a zero HTTPClient by a new client that does not follow
// redirects). It is the one place the defaults are applied; it does not
// check c, [New] does. Negative values are left as they are, for New to
// refuse.
func (c Config) WithDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.AuthScheme == "" {
		c.AuthScheme = AuthBasic
	}
	orDefault(&c.PageSize, DefaultPageSize)
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	orDefault(&c.RateBurst, DefaultRateBurst)
	orDefault(&c.Timeout, DefaultTimeout)
	orDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	orDefault(&c.MaxPages, DefaultMaxPages)
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	r := &c.Retry
	orDefault(&r.InitialInterval, DefaultInitialBackoff)
	orDefault(&r.MaxInterval, DefaultMaxBackoff)
	orDefault(&r.MaxElapsedTime, DefaultMaxElapsed)
	orDefault(&r.MaxRetryAfter, DefaultMaxRetryAfter)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return c
}

// validate returns an error naming the first field of c that is wrong; c
// has its defaults applied.
func (c Config) validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("jelou: BaseURL must be an http or https URL with a host, got %q", RedactURL(c.BaseURL))
	}
	if c.Credentials.ClientID == "" || c.Credentials.ClientSecret == "" {
		return errors.New("jelou: client id and client secret are both required")
	}
	switch c.AuthScheme {
	case AuthBasic, AuthRaw:
	default:
		return fmt.Errorf("jelou: AuthScheme must be %q or %q, got %q", AuthBasic, AuthRaw, string(c.AuthScheme))
	}
	for _, f := range []struct {
		name     string
		negative bool
		value    any
	}{
		{"PageSize", c.PageSize < 0, c.PageSize},
		{"RateBurst", c.RateBurst < 0, c.RateBurst},
		{"Timeout", c.Timeout < 0, c.Timeout},
		{"MaxBodyBytes", c.MaxBodyBytes < 0, c.MaxBodyBytes},
		{"MaxPages", c.MaxPages < 0, c.MaxPages},
	} {
		if f.negative {
			return fmt.Errorf("jelou: %s must not be negative, got %v", f.name, f.value)
		}
	}
	r := c.Retry
	if r.InitialInterval < 0 || r.MaxInterval < 0 || r.MaxElapsedTime < 0 || r.MaxRetryAfter < 0 || r.MaxAttempts < 0 {
		return errors.New("jelou: Retry intervals and MaxAttempts must not be negative")
	}
	return nil
}

// orDefault replaces a zero *v by def.
func orDefault[T ~int | ~int64](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}
