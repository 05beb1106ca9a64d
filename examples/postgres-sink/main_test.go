package main

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	const dsn = "postgres://sink@db:5432/analytics"
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr []string // substrings of the error, one per problem
	}{
		{name: "defaults", args: []string{"-brokers", "k1:9092, k2:9092", "-dsn", dsn},
			want: Config{Brokers: []string{"k1:9092", "k2:9092"}, Topic: "jelou.conversations.attended", DSN: dsn, Schema: "jelou_sink", BatchSize: 1000, FlushEvery: 200 * time.Millisecond}},
		{name: "the producer's variables", env: map[string]string{"KAFKA_BROKERS": "k:1", "KAFKA_TOPIC": "ev", "KAFKA_STATE_TOPIC": "st", "KAFKA_WATERMARK_TOPIC": "wm", "DATABASE_URL": dsn},
			want: Config{Brokers: []string{"k:1"}, Topic: "ev", StateTopic: "st", WatermarkTopic: "wm", DSN: dsn, Schema: "jelou_sink", BatchSize: 1000, FlushEvery: 200 * time.Millisecond}},
		{name: "SINK_ variables win over the producer's, the command line over both",
			args: []string{"-topic", "cli"},
			env:  map[string]string{"SINK_BROKERS": "s:1", "KAFKA_BROKERS": "k:1", "SINK_TOPIC": "sink", "KAFKA_TOPIC": "ev", "SINK_DSN": dsn, "DATABASE_URL": "other", "SINK_SCHEMA": "analytics", "SINK_BATCH_SIZE": "10", "SINK_FLUSH_EVERY": "1s"},
			want: Config{Brokers: []string{"s:1"}, Topic: "cli", DSN: dsn, Schema: "analytics", BatchSize: 10, FlushEvery: time.Second}},
		{name: "every problem at once", args: []string{"-brokers", "nohost", "-schema", "Bad-Name", "-batch-size", "0", "-flush-every", "0s", "-state-topic", "jelou.conversations.attended"},
			env:     map[string]string{"SINK_WATERMARK_TOPIC": "wm"},
			wantErr: []string{"-brokers: \"nohost\" is not host:port", "-dsn", "-schema must be a lowercase identifier", "-batch-size must be between", "-flush-every must be positive", "name the same topic"}},
		{name: "no brokers, bad variable", env: map[string]string{"SINK_DSN": dsn, "SINK_BATCH_SIZE": "many"},
			wantErr: []string{"SINK_BATCH_SIZE=\"many\"", "-brokers (or SINK_BROKERS, KAFKA_BROKERS) is required"}},
		{name: "unknown flag", args: []string{"-bogus"}, wantErr: []string{"-bogus"}},
		{name: "stray argument", args: []string{"-brokers", "k:1", "-dsn", dsn, "extra"}, wantErr: []string{"unexpected arguments"}},
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
			if !reflect.DeepEqual(c, tt.want) {
				t.Errorf("got  %+v\nwant %+v", c, tt.want)
			}
		})
	}
}

func TestHelpAndUsageErrors(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{arg}, &stdout, &stderr); code != 0 || stderr.Len() != 0 || !strings.Contains(stdout.String(), "usage: postgres-sink") || !strings.Contains(stdout.String(), "-watermark-topic") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, stdout.String(), stderr.String())
		}
		if _, err := parseConfig([]string{arg}, func(string) (string, bool) { return "", false }, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: %v, want flag.ErrHelp", arg, err)
		}
	}
	for _, k := range []string{"KAFKA_BROKERS", "SINK_BROKERS", "SINK_DSN", "DATABASE_URL"} {
		t.Setenv(k, "")
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-batch-size", "0"}, &stdout, &stderr); code != 2 || stdout.Len() != 0 ||
		!strings.Contains(stderr.String(), "postgres-sink: -batch-size must be between") || !strings.Contains(stderr.String(), "postgres-sink: -brokers") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestRunFailsOnUnreachableDatabase: a database that cannot be reached is
// exit status 1 with the reason on one line, and no password in it.
func TestRunFailsOnUnreachableDatabase(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-brokers", "127.0.0.1:1", "-dsn", "postgres://sink:s3cret-pw@127.0.0.1:1/x?connect_timeout=5"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "postgres-sink: connect to postgres") {
		t.Errorf("exit %d, stderr %q; want 1 and the connection failure", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "s3cret-pw") {
		t.Errorf("the password is printed: %q", stderr.String())
	}
}
