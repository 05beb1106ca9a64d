package service_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Distinctive credentials, so that any leak is found by a plain search.
const (
	secretClientID = "leak-check-client"
	secretAPI      = "Zebra-S3cret-7781"
	secretSASLUser = "leak-check-user"
	secretSASL     = "Kafka-Pa55-9413"
	secretWrong    = "Wrong-Pa55-5150"
)

// forbidden lists every form in which the credentials must never appear.
func forbidden() []string {
	b64 := func(s string) string { return strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(s)), "=") }
	return []string{
		secretAPI, secretSASL, secretWrong,
		b64(secretClientID + ":" + secretAPI),
		base64.URLEncoding.EncodeToString([]byte(secretClientID + ":" + secretAPI)),
		b64("\x00" + secretSASLUser + "\x00" + secretSASL),
		b64("\x00" + secretSASLUser + "\x00" + secretWrong),
	}
}

// TestSecretsNeverLeak runs the service with distinctive credentials at
// debug level through 5xx, 429, truncated bodies, proxy pages that echo
// the Authorization header, and finally a 401 that holds the source
// failed, plus a broker that refuses a wrong SASL password, and checks that
// neither secret, nor the base64 forms that carry them, appears in the
// logs (the source's failure line included), /metrics, /readyz (its
// source detail included) or any error.
func TestSecretsNeverLeak(t *testing.T) {
	broker, err := kafkatest.StartInProcess(1, kfake.EnableSASL(), kfake.Superuser("PLAIN", secretSASLUser, secretSASL))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()

	h := newHarness(t, simOptions{count: 500, config: jelousim.Config{ClientID: secretClientID, ClientSecret: secretAPI}})
	h.brokers = broker.Addrs
	// A proxy that echoes the request's credentials in its error pages.
	var echoed atomic.Int32
	h.reqs.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if echoed.Add(1) > 2 {
			return false
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "<html><body>502 Bad Gateway. Request headers: Authorization: %s (%s:%s)</body></html>",
			r.Header.Get("Authorization"), secretClientID, secretAPI)
		return true
	})
	for _, f := range []jelousim.QueuedFault{
		{Fault: jelousim.Fault{Kind: jelousim.FaultInternal}, Count: 3},
		{Fault: jelousim.Fault{Kind: jelousim.FaultRateLimit, RetryAfter: time.Second}, Count: 2},
		{Fault: jelousim.Fault{Kind: jelousim.FaultTruncated}, Count: 1},
	} {
		if err := h.sim.InjectNext(f.Fault, f.Count); err != nil {
			t.Fatal(err)
		}
	}

	var logs testutil.SyncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := h.config()
	cfg.Jelou.ClientID, cfg.Jelou.ClientSecret = secretClientID, jelou.Secret(secretAPI)
	cfg.Kafka.Topic = kafkatest.TopicName(t)
	cfg.Kafka.TopicCreate = true
	cfg.Kafka.KafkaSASL = config.KafkaSASL{Mechanism: "plain", Username: secretSASLUser, Password: secretSASL}
	cfg.Log.Level = "debug"
	logger.Info("configuration", "config", cfg)

	var corpus strings.Builder
	r := h.start(cfg, service.Options{Logger: logger, ServeHTTP: true})
	h.waitCursor(r, t0.Add(-20*time.Hour), 60*time.Second)
	for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
		corpus.WriteString(httpGet(t, "http://"+r.svc.HTTPAddr()+path))
	}
	// Credentials revoked: the next request gets 401 and the source is
	// held failed, reported by /readyz and the log.
	h.sim.SetCredentials(secretClientID, "rotated")
	st := heldFailed(t, r, &logs, config.DefaultSourceID, telemetry.FailureAuth, "401")
	corpus.WriteString(st.Error)
	corpus.WriteString(httpGet(t, "http://"+r.svc.HTTPAddr()+"/readyz"))
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v, want nil at the stop", err)
	}

	// A wrong SASL password: New fails, saying so without the password.
	bad := cfg
	bad.Kafka.KafkaSASL.Password = secretWrong
	if _, err := h.tryStart(bad, service.Options{Logger: logger}); err == nil {
		t.Error("New with a wrong SASL password succeeded")
	} else {
		corpus.WriteString(err.Error())
	}
	// Check's report, with the revoked API secret and the wrong password.
	var report strings.Builder
	cerr := service.Check(context.Background(), bad, &report)
	if cerr == nil {
		t.Error("Check with revoked credentials and a wrong SASL password passed")
	}
	corpus.WriteString(report.String())
	corpus.WriteString(fmt.Sprint(cerr))
	corpus.WriteString(fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg))
	corpus.WriteString(logs.String())

	// The path to check was really taken.
	all := corpus.String()
	for _, want := range []string{`"level":"DEBUG"`, "HTTP 502", "HTTP 500", "HTTP 429", "Authorization: Basic [REDACTED]", "jelou_producer_api_requests_total", "401"} {
		if !strings.Contains(all, want) {
			t.Errorf("the captured output has no %q: the scenario did not run as intended", want)
		}
	}
	for _, s := range forbidden() {
		if i := strings.Index(all, s); i >= 0 {
			t.Errorf("credential form %q leaked: …%s…", s, all[max(0, i-80):min(len(all), i+len(s)+20)])
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

// TestCheckMasksBaseURLPassword runs check with a password (and then a
// token as user name) in JELOU_BASE_URL and checks that its report shows
// the URL with them masked.
func TestCheckMasksBaseURLPassword(t *testing.T) {
	h := newHarness(t, simOptions{count: 10})
	for _, user := range []*url.Userinfo{url.UserPassword("operator", secretWrong), url.User(secretWrong)} {
		cfg := h.config()
		u, err := url.Parse(cfg.Jelou.BaseURL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = user
		cfg.Jelou.BaseURL = u.String()
		var report strings.Builder
		cerr := service.Check(context.Background(), cfg, &report)
		out := report.String() + fmt.Sprint(cerr)
		if strings.Contains(out, secretWrong) {
			t.Errorf("check shows the base URL's credentials:\n%s", out)
		}
		if !strings.Contains(out, "xxxxx@"+u.Host) {
			t.Errorf("check does not show the masked base URL:\n%s", out)
		}
	}
}
