package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want Config
		err  string
	}{
		{"flags", []string{"-brokers", "a:1, b:2", "-watermark-topic", "w"}, nil, Config{Brokers: []string{"a:1", "b:2"}, Topic: "jelou.conversations.attended", WatermarkTopic: "w"}, ""},
		{"environment", nil, map[string]string{"KAFKA_BROKERS": "k:9", "HOURLY_WATERMARK_TOPIC": "w", "HOURLY_TOPIC": "t"}, Config{Brokers: []string{"k:9"}, Topic: "t", WatermarkTopic: "w"}, ""},
		{"the command line wins", []string{"-topic", "x", "-brokers", "a:1"}, map[string]string{"HOURLY_TOPIC": "t", "HOURLY_WATERMARK_TOPIC": "w"}, Config{Brokers: []string{"a:1"}, Topic: "x", WatermarkTopic: "w"}, ""},
		{"missing", nil, nil, Config{}, "-brokers"},
		{"no watermark topic", []string{"-brokers", "a:1"}, nil, Config{}, "-watermark-topic"},
		{"stray argument", []string{"-brokers", "a:1", "-watermark-topic", "w", "extra"}, nil, Config{}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Brokers, tc.want.Brokers) || got.Topic != tc.want.Topic || got.WatermarkTopic != tc.want.WatermarkTopic {
				t.Errorf("config %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRunUsageErrorExits2(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", "")
	t.Setenv("HOURLY_BROKERS", "")
	if code := run([]string{"-watermark-topic", "w"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
