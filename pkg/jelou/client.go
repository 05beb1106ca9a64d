package jelou

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/time/rate"
)

// RequestTimeLayout is how startAt and endAt are written: ISO 8601 with a
// numeric offset, second precision, in Config.Location.
const RequestTimeLayout = "2006-01-02T15:04:05-07:00"

// maxErrorBody bounds how much of a non-2xx body is read: only its message
// and a snippet are kept.
const maxErrorBody = 64 << 10

// Client calls the attended-conversations endpoint. It is safe for
// concurrent use; all its requests, retries included, share one rate
// limiter. Create it with [New].
type Client struct {
	cfg       Config
	endpoint  url.URL
	auth      Secret   // the Authorization header value
	redactor  redactor // replaces the credentials in quoted bodies and messages
	limiter   Pauser
	obs       Observer
	log       *slog.Logger
	userAgent string
}

// New returns a Client for cfg, with defaults applied to its zero fields, or
// an error naming the first field that is wrong.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/") + Path)
	if err != nil {
		return nil, fmt.Errorf("jelou: BaseURL: %w", err)
	}
	pair := cfg.Credentials.ClientID + ":" + string(cfg.Credentials.ClientSecret)
	encoded := base64.StdEncoding.EncodeToString([]byte(pair))
	c := &Client{
		cfg:       cfg,
		endpoint:  *u,
		redactor:  newRedactor(cfg.Credentials.ClientID, cfg.Credentials.ClientSecret),
		obs:       cfg.Observer,
		log:       cfg.Logger,
		userAgent: "jelou-producer/" + cfg.Version,
	}
	switch cfg.AuthScheme {
	case AuthRaw:
		c.auth = Secret(pair)
	default:
		c.auth = Secret("Basic " + encoded)
	}
	lim := cfg.Limiter
	if lim == nil {
		if cfg.RateLimit < 0 {
			lim = rate.NewLimiter(rate.Inf, cfg.RateBurst)
		} else {
			lim = rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.RateBurst)
		}
	}
	c.limiter = pausable(lim)
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// String describes the client without its credentials.
func (c Client) String() string {
	return fmt.Sprintf("jelou.Client{URL:%s AuthScheme:%s PageSize:%d Location:%s}",
		RedactURL(c.endpoint.String()), c.cfg.AuthScheme, c.cfg.PageSize, c.cfg.Location)
}

// GoString is String, for %#v.
func (c Client) GoString() string { return c.String() }

// Format prints String whatever the verb, so fmt never reaches the
// unexported fields that hold the Authorization header.
func (c Client) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c) }

// LogValue describes the client without its credentials.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", RedactURL(c.endpoint.String())),
		slog.String("auth_scheme", string(c.cfg.AuthScheme)),
		slog.Int("page_size", c.cfg.PageSize),
	)
}

// Location returns the zone response timestamps without offset are read in.
func (c *Client) Location() *time.Location { return c.cfg.Location }

// PageSize returns the limit sent with every request.
func (c *Client) PageSize() int { return c.cfg.PageSize }

// requestBody is the JSON body of every request.
type requestBody struct {
	StartAt string `json:"startAt"`
	EndAt   string `json:"endAt"`
	GetJSON bool   `json:"getJson"`
}

// FetchPage fetches one page (1-based) of window w: one logical request,
// retried with jittered exponential backoff while its errors are temporary
// (429, 5xx, network errors, timeouts) and within RetryConfig's bounds.
// Permanent errors (401, 403, 422, other statuses, oversized bodies), an
// undecodable body (temporary, but a repeat at once would likely bring the
// same bytes back) and the cancellation of ctx stop it at once. Errors read
// "fetch <window> page <n>: ..." and wrap the typed errors of this package.
func (c *Client) FetchPage(ctx context.Context, w Window, page int) (*Page, error) {
	return c.fetchPage(ctx, w, page, c.cfg.PageSize)
}

// fetchPage is FetchPage asking for limit rows a page.
func (c *Client) fetchPage(ctx context.Context, w Window, page, limit int) (*Page, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("fetch page %d: %w", page, err)
	}
	if page < 1 {
		return nil, fmt.Errorf("fetch %s page %d: page numbers start at 1", w, page)
	}
	body, err := json.Marshal(requestBody{
		StartAt: w.Start.In(c.cfg.Location).Format(RequestTimeLayout),
		EndAt:   w.End.In(c.cfg.Location).Format(RequestTimeLayout),
		GetJSON: true,
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %s page %d: encode body: %w", w, page, err)
	}
	u := c.endpoint
	u.RawQuery = url.Values{"limit": {strconv.Itoa(limit)}, "page": {strconv.Itoa(page)}}.Encode()
	target := u.String()

	policy := c.newPolicy()
	var b backoff.BackOff = policy
	if n := c.cfg.Retry.MaxAttempts; n > 0 {
		b = backoff.WithMaxRetries(b, uint64(n-1))
	}
	b = backoff.WithContext(b, ctx)

	attempt := 0
	op := func() (*Page, error) {
		attempt++
		p, err := c.do(ctx, w, page, target, body, attempt)
		if err == nil {
			return p, nil
		}
		if ctx.Err() != nil || !retryNow(err) {
			return nil, backoff.Permanent(err)
		}
		policy.floor = 0
		if rl, ok := errors.AsType[*RateLimitError](err); ok {
			policy.floor = rl.RetryAfter
		}
		if se, ok := errors.AsType[*ServerError](err); ok {
			policy.floor = se.RetryAfter
		}
		return nil, err
	}
	notify := func(err error, wait time.Duration) {
		c.obs.Retry(RetryInfo{Window: w, Page: page, Attempt: attempt, Wait: wait, Err: err})
		c.log.LogAttrs(ctx, slog.LevelWarn, "jelou request failed, retrying",
			slog.String("window", w.String()), slog.Int("page", page),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
	}
	p, err := backoff.RetryNotifyWithData(op, b, notify)
	if err != nil {
		if attempt > 1 {
			return nil, fmt.Errorf("fetch %s page %d: after %d attempts: %w", w, page, attempt, err)
		}
		return nil, fmt.Errorf("fetch %s page %d: %w", w, page, err)
	}
	return p, nil
}

// do makes one HTTP attempt: wait for the limiter, send, read the bounded
// body, turn the response into a Page or a typed error, and report it. A
// 429 with a Retry-After pauses the limiter until the (capped) wait ends.
func (c *Client) do(ctx context.Context, w Window, page int, target string, body []byte, attempt int) (*Page, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, fmt.Errorf("wait for rate limiter: %w", err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", string(c.auth))
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	start := time.Now()
	info := RequestInfo{Window: w, Page: page, Attempt: attempt}
	p, err := c.send(ctx, reqCtx, req, &info)
	info.Duration = time.Since(start)
	info.Err = err
	if rl, ok := errors.AsType[*RateLimitError](err); ok && rl.RetryAfter > 0 {
		info.Pause = min(rl.RetryAfter, c.cfg.Retry.MaxRetryAfter)
		c.limiter.Pause(time.Now().Add(info.Pause))
	}
	if p != nil {
		info.Rows = len(p.Conversations)
		p.Number = page
	}
	c.obs.Request(info)
	attrs := []slog.Attr{
		slog.String("window", w.String()), slog.Int("page", page), slog.Int("attempt", attempt),
		slog.String("status", info.Status), slog.Duration("duration", info.Duration), slog.Int("rows", info.Rows),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "jelou request", attrs...)
	return p, err
}

// send performs req (bound to reqCtx, the per-attempt child of ctx) and
// reads its response; it fills info's status.
func (c *Client) send(ctx, reqCtx context.Context, req *http.Request, info *RequestInfo) (*Page, error) {
	timedOut := func(err error) bool {
		if ctx.Err() != nil {
			return false // the caller gave up; not our timeout
		}
		var ne net.Error
		return errors.Is(reqCtx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	}
	netErr := func(err error) error {
		t := timedOut(err)
		info.Status = "error"
		if t {
			info.Status = "timeout"
		}
		return &NetworkError{Timeout: t, Err: err}
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if ue, isURL := errors.AsType[*url.Error](err); isURL {
			ue.URL = RedactURL(ue.URL) // net/http masks a password, not a user name alone
		}
		return nil, netErr(err)
	}
	defer resp.Body.Close()
	info.StatusCode = resp.StatusCode
	info.Status = strconv.Itoa(resp.StatusCode)
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299

	limit := c.cfg.MaxBodyBytes
	if !ok {
		limit = min(limit, maxErrorBody)
	}
	if ok && resp.ContentLength > limit {
		return nil, &BodyTooLargeError{StatusCode: resp.StatusCode, Limit: limit}
	}
	if ok && c.cfg.BodyBudget != nil {
		size := limit
		if resp.ContentLength >= 0 {
			size = resp.ContentLength
		}
		if err := c.cfg.BodyBudget.Acquire(reqCtx, size); err != nil {
			return nil, netErr(fmt.Errorf("wait for memory to read the body: %w", err))
		}
		defer c.cfg.BodyBudget.Release(size)
	}
	data, err := readBody(resp.Body, resp.ContentLength, min(limit, math.MaxInt64-1))
	if err != nil {
		return nil, netErr(fmt.Errorf("read response body: %w", err))
	}
	if !ok {
		if int64(len(data)) > limit {
			data = data[:limit]
		}
		return nil, c.redactError(CheckResponse(resp, c.redactor.bytes(data)))
	}
	if int64(len(data)) > limit {
		return nil, &BodyTooLargeError{StatusCode: resp.StatusCode, Limit: limit}
	}
	p, err := decodePage(data, c.cfg.Location, maxPageRows(c.cfg.PageSize))
	if err != nil {
		if de, isDecode := errors.AsType[*DecodeError](err); isDecode {
			de.StatusCode = resp.StatusCode
			// The snippet quotes the start only: redact no more than an
			// error body's worth of a body that may be MaxBodyBytes long.
			de.Snippet = Snippet(c.redactor.bytes(data[:min(len(data), maxErrorBody)]))
		}
		return nil, err
	}
	return p, nil
}

// redactError replaces the credentials in the text CheckResponse decoded
// from a body: the raw body was redacted before, but a JSON message may
// spell a credential in escapes that only decoding joins up.
func (c *Client) redactError(err error) error {
	r := c.redactor
	switch e := err.(type) {
	case *AuthError:
		e.Message = r.string(e.Message)
	case *ValidationError:
		e.Code, e.Key = r.string(e.Code), r.string(e.Key)
		for i, m := range e.Messages {
			e.Messages[i] = r.string(m)
		}
	case *RateLimitError:
		e.Message = r.string(e.Message)
	case *ServerError:
		e.Message = r.string(e.Message)
	case *StatusError:
		e.Message = r.string(e.Message)
	}
	return err
}

// retryPolicy is the exponential backoff of one logical request, raised to
// the (capped) Retry-After of a 429 and bounded by MaxElapsedTime overall.
// A Retry-After that ends past MaxElapsedTime stops the retries: the
// request fails with the *RateLimitError, and the limiter, paused until
// the Retry-After ends, holds back the caller's next request (see do).
type retryPolicy struct {
	exp           *backoff.ExponentialBackOff
	maxElapsed    time.Duration
	maxRetryAfter time.Duration
	// floor is the Retry-After of the last failure; the operation sets it
	// before NextBackOff reads it.
	floor time.Duration
}

func (c *Client) newPolicy() *retryPolicy {
	r := c.cfg.Retry
	return &retryPolicy{
		exp: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(r.InitialInterval),
			backoff.WithMaxInterval(r.MaxInterval),
			backoff.WithMaxElapsedTime(r.MaxElapsedTime),
		),
		maxElapsed:    r.MaxElapsedTime,
		maxRetryAfter: r.MaxRetryAfter,
	}
}

// Reset restarts the policy.
func (p *retryPolicy) Reset() {
	p.exp.Reset()
	p.floor = 0
}

// NextBackOff returns the jittered exponential wait, at least the capped
// Retry-After, or Stop when the wait would end past MaxElapsedTime.
func (p *retryPolicy) NextBackOff() time.Duration {
	next := p.exp.NextBackOff()
	if next == backoff.Stop {
		return backoff.Stop
	}
	next = max(next, min(p.floor, p.maxRetryAfter))
	p.floor = 0
	if p.exp.GetElapsedTime()+next > p.maxElapsed {
		return backoff.Stop
	}
	return next
}
