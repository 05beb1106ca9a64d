package service

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestCheckpointFile pins the file of each source's checkpoint: the
// default source's is CHECKPOINT_PATH, a named one's carries its id, and
// a backfill's is backfill-<hash>.checkpoint beside them, with one prefix
// (earlier releases doubled it; that name is the one renamed from).
func TestCheckpointFile(t *testing.T) {
	cfg := config.Defaults()
	cfg.Checkpoint.Path = "/data/jelou-producer.checkpoint"
	def := config.Source{ID: config.DefaultSourceID, Jelou: config.Jelou{BaseURL: "https://api.jelou.ai", ClientID: "c"}}
	acme := config.Source{ID: "acme", Named: true, Jelou: config.Jelou{BaseURL: "https://api.jelou.ai", ClientID: "a"}}
	defAccount, acmeAccount := checkpoint.Account("https://api.jelou.ai", "c"), checkpoint.Account("https://api.jelou.ai", "a")
	from, to := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	backfill := Options{Command: config.CommandBackfill, From: from, To: to}
	bf := backfillSource(checkpointID(def), from, to)
	tests := []struct {
		name string
		opts Options
		src  config.Source
		want checkpoint.File
	}{
		{"run, default source", Options{Command: config.CommandRun}, def,
			checkpoint.File{Source: checkpoint.SourceID("https://api.jelou.ai", "c"), Path: "/data/jelou-producer.checkpoint", Account: defAccount}},
		{"run, named source", Options{Command: config.CommandRun}, acme,
			checkpoint.File{Source: "source-acme", Path: "/data/jelou-producer.acme.checkpoint", Account: acmeAccount}},
		{"backfill", backfill, def,
			checkpoint.File{Source: bf, Path: "/data/" + bf + ".checkpoint", Former: "/data/backfill-" + bf + ".checkpoint", Account: defAccount}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkpointFile(cfg, tt.opts, tt.src); got != tt.want {
				t.Errorf("checkpointFile = %+v, want %+v", got, tt.want)
			}
		})
	}
	if !regexp.MustCompile(`^backfill-[0-9a-f]{16}\.checkpoint$`).MatchString(filepath.Base(checkpointFile(cfg, backfill, def).Path)) {
		t.Errorf("backfill checkpoint %s, want backfill-<16 hex digits>.checkpoint", checkpointFile(cfg, backfill, def).Path)
	}
}

// TestBackfillResumesFromTheFormerName: an interrupted backfill of an
// earlier release, saved as backfill-backfill-<hash>.checkpoint, is found
// by the store the service opens, under the new name.
func TestBackfillResumesFromTheFormerName(t *testing.T) {
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Checkpoint.Backend = checkpoint.BackendFile
	cfg.Checkpoint.Path = filepath.Join(t.TempDir(), "jelou-producer.checkpoint")
	src := config.Source{ID: config.DefaultSourceID, Jelou: config.Jelou{BaseURL: "https://api.jelou.ai", ClientID: "c"}}
	opts := Options{Command: config.CommandBackfill, From: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)}
	f := checkpointFile(cfg, opts, src)

	old, err := checkpoint.NewFile(f.Former)
	if err != nil {
		t.Fatal(err)
	}
	interrupted := &checkpoint.Checkpoint{Source: f.Source, Cursor: time.Date(2024, 5, 1, 7, 0, 0, 0, time.UTC), SavedAt: time.Now()}
	if err := old.Save(ctx, interrupted); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := checkpoint.Open(ctx, checkpointSpec(cfg, []checkpoint.File{f}, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cp, err := st.Load(ctx, f.Source)
	if err != nil {
		t.Fatalf("the backfill does not resume: %v", err)
	}
	if !cp.Cursor.Equal(interrupted.Cursor) {
		t.Errorf("resumed at %s, want %s", cp.Cursor, interrupted.Cursor)
	}
	if _, err := os.Stat(f.Path); err != nil {
		t.Errorf("the checkpoint is not under its new name: %v", err)
	}
	if _, err := os.Stat(f.Former); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the former name still exists (%v)", err)
	}
}

// TestNamedSourceAccount: a named source's checkpoint belongs to its
// account (base URL and client id). A new secret keeps it; another client
// id under the same source id (another deployment on the same checkpoint
// store, or a changed account) is refused it.
func TestNamedSourceAccount(t *testing.T) {
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Checkpoint.Backend = checkpoint.BackendFile
	cfg.Checkpoint.Path = filepath.Join(t.TempDir(), "jelou-producer.checkpoint")
	acme := func(clientID, secret string) config.Source {
		return config.Source{ID: "acme", Named: true, Jelou: config.Jelou{BaseURL: "https://api.jelou.ai", ClientID: clientID, ClientSecret: jelou.Secret(secret)}}
	}
	load := func(src config.Source) (*checkpoint.Checkpoint, error) {
		t.Helper()
		f := checkpointFile(cfg, Options{Command: config.CommandRun}, src)
		st, err := checkpoint.Open(ctx, checkpointSpec(cfg, []checkpoint.File{f}, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if cp, err := st.Load(ctx, f.Source); !errors.Is(err, checkpoint.ErrNotFound) {
			return cp, err
		}
		return nil, st.Save(ctx, &checkpoint.Checkpoint{Source: f.Source, Cursor: time.Date(2024, 5, 1, 7, 0, 0, 0, time.UTC), SavedAt: time.Now()})
	}
	if _, err := load(acme("client-1", "secret-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := load(acme("client-1", "secret-2")); err != nil {
		t.Errorf("after the secret rotated: %v, want the checkpoint", err)
	}
	_, err := load(acme("client-2", "secret-1"))
	var ae *checkpoint.AccountMismatchError
	if !errors.As(err, &ae) || ae.Found != checkpoint.Account("https://api.jelou.ai", "client-1") {
		t.Errorf("with another client id: %v, want an AccountMismatchError", err)
	}
}

// TestCheckpointTopicReplication: the checkpoint topic and the group's
// assignment topic beside it (<checkpoint topic>.owners) are created with
// CHECKPOINT_TOPIC_REPLICATION, by default 0 (the broker's default), not
// with the event topic's KAFKA_TOPIC_REPLICATION.
func TestCheckpointTopicReplication(t *testing.T) {
	cfg := config.Defaults()
	cfg.Kafka.TopicReplication = 1
	owners := func(cfg config.Config) int { return (&Service{cfg: cfg}).ownershipConfig().Replication }
	if got := checkpointSpec(cfg, nil, nil, nil).Replication; got != 0 {
		t.Errorf("replication by default = %d, want 0 (the broker's default)", got)
	}
	if got := owners(cfg); got != 0 {
		t.Errorf("assignment topic's replication by default = %d, want 0 (the broker's default)", got)
	}
	cfg.Checkpoint.TopicReplication = 3
	if got := checkpointSpec(cfg, nil, nil, nil).Replication; got != 3 {
		t.Errorf("replication with CHECKPOINT_TOPIC_REPLICATION=3 = %d, want 3", got)
	}
	if got := owners(cfg); got != 3 {
		t.Errorf("assignment topic's replication with CHECKPOINT_TOPIC_REPLICATION=3 = %d, want 3", got)
	}
}
