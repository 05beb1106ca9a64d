package jelou_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// This example fetches every conversation of one window from a stand-in
// for the API, then checks the Drift report before trusting the rows.
func ExampleClient_FetchWindow() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{
		  "message": "Retrieving conversations succeeded",
		  "status": "success",
		  "results": [
		    {"_id": "64a1", "company": {"id": "acme"}, "state": "closed",
		     "startAt": "2025-01-01 09:15:00", "endAt": "2025-01-01 09:40:30", "timeRepliedOperator": 4200},
		    {"_id": "64a2", "company": {"id": "acme"}, "state": "active",
		     "startAt": "2025-01-01 10:02:11", "endAt": null}
		  ],
		  "pagination": {"limit": 100, "total": 2, "offset": 0, "totalPages": 1}
		}`)
	}))
	defer srv.Close()

	ecuador := time.FixedZone("ECT", -5*3600)
	client, err := jelou.New(jelou.Config{
		BaseURL:     srv.URL,
		Credentials: jelou.Credentials{ClientID: "my-client", ClientSecret: "my-secret"},
		Location:    ecuador, // zone of the API's timestamps without offset
	})
	if err != nil {
		log.Fatal(err)
	}

	w := jelou.Window{
		Start: time.Date(2025, 1, 1, 0, 0, 0, 0, ecuador),
		End:   time.Date(2025, 1, 1, 23, 59, 59, 0, ecuador),
	}
	res, err := client.FetchWindow(context.Background(), w)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range res.Conversations {
		fmt.Printf("%s %-6s start %s terminal=%v\n", c.ID, c.State, c.StartAt.UTC().Format(time.RFC3339), c.State.Terminal())
	}
	fmt.Println("drift:", res.Drift)
	// Output:
	// 64a1 closed start 2025-01-01T14:15:00Z terminal=true
	// 64a2 active start 2025-01-01T15:02:11Z terminal=false
	// drift: none
}

// Callers branch on the typed errors with errors.As: a 401 is never retried
// and means the credentials or the auth scheme are wrong.
func ExampleAuthError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"message": "Authentication failed"}`)
	}))
	defer srv.Close()

	client, err := jelou.New(jelou.Config{
		BaseURL:     srv.URL,
		Credentials: jelou.Credentials{ClientID: "my-client", ClientSecret: "wrong"},
		AuthScheme:  jelou.AuthRaw,
	})
	if err != nil {
		log.Fatal(err)
	}
	w := jelou.Window{
		Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		End:   time.Date(2025, 1, 1, 0, 59, 59, 0, time.UTC),
	}
	_, err = client.FetchPage(context.Background(), w, 1)
	var authErr *jelou.AuthError
	if errors.As(err, &authErr) {
		fmt.Println("stop:", authErr.StatusCode, authErr.Message)
	}
	fmt.Println(err)
	// Output:
	// stop: 401 Authentication failed
	// fetch 2025-01-01T00:00:00Z/2025-01-01T00:59:59Z page 1: authentication failed (HTTP 401): Authentication failed; check the client id, client secret and auth scheme
}

// A Secret prints, logs and marshals redacted; Reveal returns the credential.
func ExampleSecret() {
	s := jelou.Secret("s3cret")
	fmt.Println(s)
	fmt.Printf("%q %x %#v\n", s, s, s)
	fmt.Printf("%q\n", jelou.Secret(""))
	fmt.Println(s.Reveal())
	// Output:
	// [REDACTED]
	// "[REDACTED]" [REDACTED] "[REDACTED]"
	// ""
	// s3cret
}
