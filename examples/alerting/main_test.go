package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr []string // substrings of the error, one per problem
	}{
		{name: "defaults", args: []string{"-brokers", "k1:9092, k2:9092"}, check: func(t *testing.T, c Config) {
			want := Config{Brokers: []string{"k1:9092", "k2:9092"}, Topic: "jelou.conversations.attended", Group: "jelou-alerts",
				ActiveFor: 30 * time.Minute, ReplyOver: 5 * time.Minute, CheckEvery: 10 * time.Second, ForgetAfter: 48 * time.Hour, WebhookTimeout: 5 * time.Second}
			if !slices.Equal(c.Brokers, want.Brokers) {
				t.Errorf("brokers %q", c.Brokers)
			}
			c.Brokers, want.Brokers = nil, nil
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v\nwant %+v", c, want)
			}
		}},
		{name: "environment", env: map[string]string{"ALERTS_BROKERS": "k:1", "ALERTS_ACTIVE_FOR": "45m", "ALERTS_REPLY_OVER": "0s", "ALERTS_FROM_BEGINNING": "true", "ALERTS_WEBHOOK_URL": "https://hooks.example/x"},
			check: func(t *testing.T, c Config) {
				if c.Brokers[0] != "k:1" || c.ActiveFor != 45*time.Minute || c.ReplyOver != 0 || !c.FromBeginning || c.WebhookURL != "https://hooks.example/x" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "the command line wins", args: []string{"-active-for", "10m"}, env: map[string]string{"KAFKA_BROKERS": "k:2", "ALERTS_ACTIVE_FOR": "45m"},
			check: func(t *testing.T, c Config) {
				if c.Brokers[0] != "k:2" || c.ActiveFor != 10*time.Minute {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "every problem at once", args: []string{"-active-for", "0s", "-check-every", "-1s", "-webhook-url", "ftp://x"}, env: map[string]string{"ALERTS_FORGET_AFTER": "soon"},
			wantErr: []string{"ALERTS_FORGET_AFTER=\"soon\"", "-brokers", "-active-for must be positive", "-check-every must be positive", "-webhook-url must be an http or https URL"}},
		{name: "unknown flag", args: []string{"-bogus"}, wantErr: []string{"-bogus"}},
		{name: "stray argument", args: []string{"-brokers", "k:1", "extra"}, wantErr: []string{"unexpected arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			c, err := parseConfig(tt.args, lookup, &bytes.Buffer{})
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error; config %+v", c)
				}
				if lines := strings.Split(err.Error(), "\n"); len(lines) != len(tt.wantErr) {
					t.Errorf("%d problems reported, want %d:\n%v", len(lines), len(tt.wantErr), err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestHelpAndUsageErrors(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out bytes.Buffer
		if _, err := parseConfig([]string{arg}, func(string) (string, bool) { return "", false }, &out); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: %v, want flag.ErrHelp", arg, err)
		}
		var stdout, stderr bytes.Buffer
		if code := run([]string{arg}, &stdout, &stderr); code != 0 || stderr.Len() != 0 || !strings.Contains(stdout.String(), "usage: alerting") || !strings.Contains(stdout.String(), "-active-for") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, stdout.String(), stderr.String())
		}
	}
	t.Setenv("KAFKA_BROKERS", "")
	t.Setenv("ALERTS_BROKERS", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-active-for", "0s"}, &stdout, &stderr); code != 2 || stdout.Len() != 0 ||
		!strings.Contains(stderr.String(), "alerting: -active-for must be positive") || !strings.Contains(stderr.String(), "alerting: -brokers") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestComposeEnvironment parses the compose service's ALERTS_* variables as
// the consumer would, so that the service block cannot name a variable or a
// value the consumer rejects.
func TestComposeEnvironment(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(ALERTS_[A-Z_]+):\s*"?([^"\s#]+)"?`).FindAllStringSubmatch(string(b), -1) {
		env[m[1]] = m[2]
	}
	if env["ALERTS_BROKERS"] == "" {
		t.Fatalf("docker-compose.yml sets no ALERTS_BROKERS; found %v", env)
	}
	asked := map[string]bool{} // every variable the consumer reads
	_, err = parseConfig(nil, func(k string) (string, bool) { asked[k] = true; v, ok := env[k]; return v, ok }, &bytes.Buffer{})
	if err != nil {
		t.Errorf("the compose environment %v is rejected: %v", env, err)
	}
	for k := range env {
		if !asked[k] {
			t.Errorf("docker-compose.yml sets %s, which the consumer does not read", k)
		}
	}
}
