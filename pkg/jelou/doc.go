// Package jelou provides a client for Jelou's attended-conversations metrics
// endpoint, POST /v1/metrics/conversations/attended/external, and a tolerant
// decoder for its responses.
//
//	c, err := jelou.New(jelou.Config{
//		Credentials: jelou.Credentials{ClientID: id, ClientSecret: jelou.Secret(secret)},
//	})
//	res, err := c.FetchWindow(ctx, jelou.Window{Start: from, End: to})
//	for _, conv := range res.Conversations { ... }
//	if res.Drift.Detected() { /* re-fetch or split the window */ }
//
// # Authentication
//
// The vendor's page contradicts itself: its prose and curl example send
// "Authorization: clientId:clientSecret", its security scheme says HTTP Basic.
// Config.AuthScheme selects AuthBasic (the default, "Basic " followed by
// base64 of clientId:clientSecret) or AuthRaw (the pair as is). Credentials
// never appear in logs, errors, or the printed form of Config, Credentials,
// Secret or Client; error snippets of response bodies have them replaced by
// "[REDACTED]" in case a proxy echoes request headers.
//
// # Requests
//
// The body is {"startAt", "endAt", "getJson": true} with times written
// in Config.Location as ISO 8601 with a numeric offset, to the second
// (RequestTimeLayout). [Window] is inclusive at both ends; the fraction of a
// second is dropped. limit (Config.PageSize) and page go in the query string.
//
// # Decoding
//
// [DecodePage] fails only when the body is not a page at all (not JSON,
// truncated, not an object, or neither results nor pagination): it returns a
// *DecodeError quoting the status and the first 200 bytes. Otherwise rows are
// decoded one by one: each keeps its exact bytes in Conversation.Raw, and a
// field of the wrong type or an unparseable date leaves the typed field zero
// and adds a line to Conversation.Problems; the row is never dropped.
// message may be a string or an array of strings. Timestamps without an
// offset ("2023-06-08 15:52:41") are read in Config.Location; RFC 3339 ones
// keep their own offset; a null or empty endAt is the zero time.
//
// # Pagination
//
// [Client.FetchPage] fetches one page; [Client.Pages] iterates over every page
// of a window; [Client.FetchWindow] collects them and reports [Drift]. The
// number of pages comes from the last response's pagination.totalPages, else
// ceil(total/limit) using the server's effective limit (the server may return
// fewer rows than asked). A missing pagination.page is expected (the vendor's
// sample has none). Paging stops after the promised last page or an empty page,
// and is bounded by Config.MaxPages ([Client.FetchWindowLimit] takes its own
// bound; zero means none; [Client.FetchWindowBounded] adds a hard page cap
// and hands rows over in bounded batches as they arrive, see [Bounds]). A pagination that contradicts itself (totalPages
// against ceil(total/limit), negative numbers) is not trusted: paging goes on
// until the rows run out, and a page that brings no new _id ends it, so wrong
// numbers never make the client page forever. Server sort order is never assumed. Rows
// may move between pages while a window is paged; FetchWindow reports a total
// that changed, rows received that differ from the total, page counts that
// disagree and duplicate _id values in Drift, and leaves the decision to the
// caller, which should re-fetch or split the window.
//
// # Rate limiting
//
// All requests of a Client, retries included, take a token from one
// golang.org/x/time/rate limiter (Config.RateLimit requests per second,
// default 5, burst Config.RateBurst) before they are sent. Config.Limiter lets
// several Clients share one budget, or replaces the limiter with one that
// orders waiting requests (a *rate.Limiter satisfies [Limiter]). Waiting honours the context.
//
// # Retries
//
// Only FetchPage's retry loop decides to retry, using jittered exponential
// backoff (github.com/cenkalti/backoff/v4) bounded by Config.Retry: a total
// per logical request (MaxElapsedTime, default 2m) and optionally a number of
// attempts. Errors whose Temporary method returns true are retried: 429, 5xx,
// 408, network errors and per-attempt timeouts (Config.Timeout, default 30s).
// After a 429 the wait is at least its Retry-After (seconds or HTTP date),
// capped by Retry.MaxRetryAfter (default 5m), and the 429 pauses the
// Limiter until then (see [Pauser]): no request sharing it goes out
// earlier. A pause ending past MaxElapsedTime ends the request at once with
// the *RateLimitError; the caller's next request waits it out in the
// Limiter. Everything else stops at once,
// including a *DecodeError: it is temporary (a proxy's bad moment can garble
// a body, so the window is worth fetching again later) but repeating the
// request at once would likely bring the same bytes back.
// Cancelling the context stops waiting, sending and retrying.
//
// # Errors
//
// [CheckResponse] is the one place that maps an HTTP status to an error:
// *AuthError (401, 403; never retried: fix the credentials or the scheme),
// *ValidationError (422, with error.code and error.key; not retried),
// *RateLimitError (429, with RetryAfter), *ServerError (5xx, including HTML
// pages from a proxy) and *StatusError (anything else). Bodies that cannot be
// decoded give *DecodeError, oversized ones *BodyTooLargeError, transport
// failures *NetworkError. FetchPage wraps them as
// "fetch <window> page <n>: ...", so use errors.As to branch. Each says
// through its Temporary method (see [IsTemporary]) whether trying again may
// help; that is the one classification a caller needs: an error whose
// Temporary returns false (credentials refused, a request rejected, a body
// too large, an undocumented status) fails again however often it is tried.
//
// # Observability
//
// Config.Observer is called once per HTTP attempt and once per retry, with
// the window, page, attempt, status and duration, so that a service can
// count them without this package importing a metrics library.
// Config.Logger, when set, gets a debug record per attempt and a warning per
// retry, never credentials nor bodies.
package jelou
