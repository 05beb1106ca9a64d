package jelou

import "time"

// Observer receives what the client does, for metrics. The client calls it
// synchronously from the requesting goroutine, possibly from several
// goroutines at once: implementations must be safe for concurrent use and
// quick. This package does not import Prometheus; the service adapts an
// Observer to its metrics.
type Observer interface {
	// Request is called once per HTTP attempt, after its body was read or
	// it failed.
	Request(RequestInfo)
	// Retry is called when the retry loop decided to try again, before it
	// waits.
	Retry(RetryInfo)
}

// RequestInfo describes one HTTP attempt.
type RequestInfo struct {
	Window Window
	// Page is the page number asked for.
	Page int
	// Attempt counts attempts of this logical request, from 1.
	Attempt int
	// StatusCode is the HTTP status; zero when no response arrived.
	StatusCode int
	// Status is a low-cardinality label: the status code as text ("200",
	// "429", ...), "timeout" for an attempt that ran out of time, or
	// "error" for any other failure without a response.
	Status string
	// Duration runs from sending the request to the end of reading its
	// body. It excludes the wait for the rate limiter.
	Duration time.Duration
	// Rows is the number of conversations decoded; zero on failure.
	Rows int
	// Pause is how long a 429's Retry-After, capped by
	// RetryConfig.MaxRetryAfter, paused the limiter from the end of this
	// attempt; zero for any other outcome.
	Pause time.Duration
	// Err is the attempt's error, nil on success.
	Err error
}

// RetryInfo describes a decision to retry.
type RetryInfo struct {
	Window Window
	// Page is the page number asked for.
	Page int
	// Attempt is the attempt that failed, from 1.
	Attempt int
	// Wait is how long the client waits before the next attempt; at least
	// the capped Retry-After of a 429.
	Wait time.Duration
	// Err is the failed attempt's error.
	Err error
}

// ObserverFuncs adapts two functions to an Observer; a nil function is
// skipped.
type ObserverFuncs struct {
	OnRequest func(RequestInfo)
	OnRetry   func(RetryInfo)
}

// Request calls OnRequest when set.
func (o ObserverFuncs) Request(i RequestInfo) {
	if o.OnRequest != nil {
		o.OnRequest(i)
	}
}

// Retry calls OnRetry when set.
func (o ObserverFuncs) Retry(i RetryInfo) {
	if o.OnRetry != nil {
		o.OnRetry(i)
	}
}

// nopObserver is used when Config.Observer is nil.
type nopObserver struct{}

func (nopObserver) Request(RequestInfo) {}
func (nopObserver) Retry(RetryInfo)     {}
