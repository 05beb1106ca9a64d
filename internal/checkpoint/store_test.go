package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
)

// opener opens a store on one backing location: every call is a new
// instance on the same location (a restart). accounts tell the store the
// account of sources, as [File].Account does.
type opener func(t *testing.T, accounts ...account) Store

// account is the fingerprint of the account of a source.
type account struct{ source, fingerprint string }

// withAccounts returns files with the accounts set.
func withAccounts(files []File, accounts []account) []File {
	out := slices.Clone(files)
	for i := range out {
		for _, a := range accounts {
			if a.source == out[i].Source {
				out[i].Account = a.fingerprint
			}
		}
	}
	return out
}

// storeFactory opens stores on one backing location; every call to open
// returns a new instance on the same location (a restart).
type storeFactory struct {
	name string
	// location returns a fresh location and an opener for it.
	location func(t *testing.T) (open opener)
}

// factories are the backends the contract suites run against: the file
// and memory stores as Open builds them, and the Kafka store with chunks
// of kafkaChunk bytes (small, so that the tests cross chunk boundaries).
func factories(kafkaChunk int) []storeFactory {
	return []storeFactory{
		{name: BackendFile, location: func(t *testing.T) opener {
			dir := filepath.Join(t.TempDir(), "state")
			var files []File
			for _, source := range []string{"src", "src1", "src2"} {
				files = append(files, File{Source: source, Path: filepath.Join(dir, source+".checkpoint")})
			}
			var last Store
			return func(t *testing.T, accounts ...account) Store {
				// A restart: the previous process is gone, with its locks.
				if last != nil {
					if err := last.Close(); err != nil {
						t.Fatal(err)
					}
				}
				last = openStore(t, Spec{Backend: BackendFile, Files: withAccounts(files, accounts)})
				return last
			}
		}},
		{name: BackendKafka, location: func(t *testing.T) opener {
			brokers := kafkatest.Brokers(t)
			topic := kafkatest.TopicName(t)
			return func(t *testing.T, accounts ...account) Store {
				files := withAccounts([]File{{Source: "src"}, {Source: "src1"}, {Source: "src2"}}, accounts)
				return kafkaStoreWith(t, KafkaConfig{Brokers: brokers, Topic: topic, ChunkSize: kafkaChunk, Accounts: Spec{Files: files}.accounts()})
			}
		}},
		{name: backendMemory, location: func(t *testing.T) opener {
			spec := Spec{Backend: backendMemory, Topic: t.Name()}
			t.Cleanup(func() { memoryTopics.Delete(spec.Topic) })
			return func(t *testing.T, accounts ...account) Store {
				spec := spec
				spec.Files = withAccounts([]File{{Source: "src"}, {Source: "src1"}, {Source: "src2"}}, accounts)
				return openStore(t, spec)
			}
		}},
	}
}

// openStore opens spec's store, closed when t ends.
func openStore(t *testing.T, spec Spec) Store {
	t.Helper()
	s, err := Open(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCheckpoint(source string, dedupeLen int, seed uint64) *Checkpoint {
	r := rand.New(rand.NewPCG(seed, 1))
	var dedupe []byte
	if dedupeLen > 0 {
		dedupe = make([]byte, dedupeLen)
		for i := range dedupe {
			dedupe[i] = byte(r.Uint32())
		}
	}
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	return &Checkpoint{
		Source:  source,
		Cursor:  base.Add(time.Duration(seed) * time.Hour).Add(123456789 * time.Nanosecond),
		SavedAt: base.Add(time.Duration(seed)*time.Hour + time.Minute),
		Dedupe:  dedupe,
		Extra:   map[string]json.RawMessage{"revisits": json.RawMessage(`[{"start":"2024-05-01T10:00:00Z","n":3}]`)},
	}
}

func assertSame(t *testing.T, got, want *Checkpoint) {
	t.Helper()
	assertSameVersion(t, got, want, FormatVersion)
}

// assertSameVersion is assertSame for a checkpoint of format version v.
func assertSameVersion(t *testing.T, got, want *Checkpoint, v int) {
	t.Helper()
	if got.Version != v {
		t.Errorf("Version = %d, want %d", got.Version, v)
	}
	if gc, wc := fmt.Sprintf("%+v", got.Coverage), fmt.Sprintf("%+v", want.Coverage); gc != wc {
		t.Errorf("Coverage = %s, want %s", gc, wc)
	}
	if got.Source != want.Source || !got.Cursor.Equal(want.Cursor) || !got.SavedAt.Equal(want.SavedAt) {
		t.Errorf("loaded (%s, %s, %s), want (%s, %s, %s)", got.Source, got.Cursor, got.SavedAt, want.Source, want.Cursor, want.SavedAt)
	}
	if !bytes.Equal(got.Dedupe, want.Dedupe) {
		t.Errorf("loaded %d dedupe bytes, want %d (equal: false)", len(got.Dedupe), len(want.Dedupe))
	}
	gotExtra, _ := json.Marshal(got.Extra)
	wantExtra, _ := json.Marshal(want.Extra)
	if !bytes.Equal(gotExtra, wantExtra) {
		t.Errorf("Extra = %s, want %s", gotExtra, wantExtra)
	}
}

// TestStoreContract runs the store contract against every backend.
func TestStoreContract(t *testing.T) {
	for _, f := range factories(64 << 10) {
		t.Run(f.name, func(t *testing.T) { testStoreContract(t, f.location) })
	}
}

// testStoreContract is what every Store promises, checked on the stores
// location opens: each test gets a fresh location.
func testStoreContract(t *testing.T, location func(t *testing.T) opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, open opener)
	}{
		{"not found when nothing was saved", func(t *testing.T, open opener) {
			_, err := open(t).Load(context.Background(), "src1")
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Load = %v, want ErrNotFound", err)
			}
		}},
		{"round trip small", func(t *testing.T, open opener) {
			roundTrip(t, open(t), testCheckpoint("src1", 100, 1))
		}},
		{"round trip without dedupe or extra", func(t *testing.T, open opener) {
			cp := testCheckpoint("src1", 0, 2)
			cp.Extra = nil
			roundTrip(t, open(t), cp)
		}},
		{"round trip several MB", func(t *testing.T, open opener) {
			roundTrip(t, open(t), testCheckpoint("src1", 3<<20+17, 3))
		}},
		{"latest save wins across restarts", func(t *testing.T, open opener) {
			ctx := context.Background()
			s := open(t)
			// Shrinking and growing payloads exercise both generations'
			// chunk sets in the Kafka backend.
			for i, n := range []int{300 << 10, 10, 500 << 10, 1} {
				if err := s.Save(ctx, testCheckpoint("src1", n, uint64(i))); err != nil {
					t.Fatalf("save %d: %v", i, err)
				}
			}
			assertLoads(t, open(t), testCheckpoint("src1", 1, 3))
			// A new instance continues from what it found.
			s2 := open(t)
			want := testCheckpoint("src1", 200<<10, 9)
			if err := s2.Save(ctx, want); err != nil {
				t.Fatal(err)
			}
			assertLoads(t, open(t), want)
		}},
		{"times come back in UTC", func(t *testing.T, open opener) {
			cp := testCheckpoint("src1", 1, 4)
			cp.Cursor = cp.Cursor.In(time.FixedZone("ECT", -5*3600))
			s := open(t)
			if err := s.Save(context.Background(), cp); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load(context.Background(), "src1")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Cursor.Equal(cp.Cursor) || got.Cursor.Location() != time.UTC {
				t.Fatalf("Cursor = %s, want %s in UTC", got.Cursor, cp.Cursor)
			}
		}},
		{"invalid checkpoints are refused", func(t *testing.T, open opener) {
			s := open(t)
			for _, cp := range []*Checkpoint{nil, {}, {Source: "a/b"}, {Source: "a b"}} {
				if err := s.Save(context.Background(), cp); err == nil {
					t.Errorf("Save(%+v) = nil, want an error", cp)
				}
			}
			if _, err := s.Load(context.Background(), ""); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("Load(\"\") = %v, want a validation error", err)
			}
		}},
		{"extra that is not JSON is refused and keeps the old checkpoint", func(t *testing.T, open opener) {
			s := open(t)
			old := testCheckpoint("src1", 10, 5)
			if err := s.Save(context.Background(), old); err != nil {
				t.Fatal(err)
			}
			bad := testCheckpoint("src1", 10, 6)
			bad.Extra = map[string]json.RawMessage{"x": json.RawMessage("{")}
			if err := s.Save(context.Background(), bad); err == nil {
				t.Fatal("Save with invalid Extra = nil, want an error")
			}
			assertLoads(t, open(t), old)
		}},
		{"cancelled context", func(t *testing.T, open opener) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			s := open(t)
			if err := s.Save(ctx, testCheckpoint("src1", 10, 7)); !errors.Is(err, context.Canceled) {
				t.Errorf("Save = %v, want context.Canceled", err)
			}
			if _, err := s.Load(context.Background(), "src1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Load after a cancelled save = %v, want ErrNotFound", err)
			}
		}},
		// A source of one id on two accounts (two deployments on one
		// topic, or a changed client id): each loads only its own
		// account's checkpoint.
		{"a checkpoint of another account is refused", func(t *testing.T, open opener) {
			ctx := context.Background()
			acme := account{"src1", Account("https://api.jelou.ai", "acme")}
			other := account{"src1", Account("https://api.jelou.ai", "someone-else")}
			if err := open(t, acme).Save(ctx, testCheckpoint("src1", 10, 1)); err != nil {
				t.Fatal(err)
			}
			_, err := open(t, other).Load(ctx, "src1")
			var ae *AccountMismatchError
			if !errors.As(err, &ae) || ae.Want != other.fingerprint || ae.Found != acme.fingerprint || ae.Source != "src1" {
				t.Fatalf("Load on another account = %v, want an AccountMismatchError naming both fingerprints", err)
			}
			for _, want := range []string{acme.fingerprint, other.fingerprint, "new id", "delete its checkpoint"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			got, err := open(t, acme).Load(ctx, "src1")
			if err != nil {
				t.Fatalf("Load on the same account = %v", err)
			}
			if got.Account != acme.fingerprint {
				t.Errorf("Account = %q, want %q", got.Account, acme.fingerprint)
			}
		}},
		// A checkpoint saved before accounts were recorded loads on any
		// account, and its next save records the account.
		{"a checkpoint without an account is adopted", func(t *testing.T, open opener) {
			ctx := context.Background()
			old := testCheckpoint("src1", 10, 1)
			if err := open(t).Save(ctx, old); err != nil {
				t.Fatal(err)
			}
			acme := account{"src1", Account("https://api.jelou.ai", "acme")}
			s := open(t, acme)
			got, err := s.Load(ctx, "src1")
			if err != nil {
				t.Fatalf("Load of a checkpoint without an account = %v", err)
			}
			assertSame(t, got, old)
			if err := s.Save(ctx, testCheckpoint("src1", 10, 2)); err != nil {
				t.Fatal(err)
			}
			_, err = open(t, account{"src1", Account("https://api.jelou.ai", "other")}).Load(ctx, "src1")
			var ae *AccountMismatchError
			if !errors.As(err, &ae) || ae.Found != acme.fingerprint {
				t.Fatalf("Load on another account after the save = %v, want an AccountMismatchError", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, location(t)) })
	}
}

func roundTrip(t *testing.T, s Store, cp *Checkpoint) {
	t.Helper()
	ctx := context.Background()
	if err := s.Save(ctx, cp); err != nil {
		t.Fatalf("Save: %v", err)
	}
	assertLoads(t, s, cp)
}

// assertLoads loads want.Source from s and checks that it is want.
func assertLoads(t *testing.T, s Store, want *Checkpoint) {
	t.Helper()
	got, err := s.Load(context.Background(), want.Source)
	if err != nil {
		t.Fatalf("Load(%s): %v", want.Source, err)
	}
	assertSame(t, got, want)
}
