package checkpoint

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"
)

// Backend names, the values of CHECKPOINT_BACKEND.
const (
	// BackendFile keeps each source's checkpoint in a file of its own.
	BackendFile = "file"
	// BackendKafka keeps every source's checkpoint in a compacted topic.
	BackendKafka = "kafka"
)

// Spec is what [Open] needs to build the store a configuration asks for.
// Each backend reads its own fields and ignores the others.
type Spec struct {
	// Backend is the backend's name: [BackendFile] or [BackendKafka].
	Backend string
	// Files are the file backend's checkpoint files, one per source the
	// store serves; Load and Save of any other source fail. The other
	// backends read only their accounts (see [File].Account).
	Files []File
	// Topic, Brokers and Replication configure the kafka backend (see
	// [KafkaConfig]).
	Topic       string
	Brokers     []string
	Replication int
	// Transport carries the kafka backend's requests, with the TLS and SASL
	// settings of the deployment; the store does not close it. Default: a
	// transport of the store's own, without TLS or SASL.
	Transport kafka.RoundTripper
	// Logger receives what the file backend did to the files (a rename from
	// an earlier name) and the kafka backend's warning about a topic that
	// does not survive the loss of a broker. Default: [slog.Default].
	Logger *slog.Logger
	// ReadOnly opens the file backend's files for Load only, without their
	// locks, so that `check` can read them beside a running producer (see
	// [ReadOnly]). The kafka backend reads without a lock anyway.
	ReadOnly bool
}

// File names the checkpoint file of one source for the file backend.
type File struct {
	// Source is the source id the file holds.
	Source string
	// Path is the file.
	Path string
	// Former, when set, is the name an earlier release gave the file: it is
	// renamed to Path when Path does not exist (see [FormerPath]).
	Former string
	// Account, when set, is the fingerprint of the account the source
	// polls ([Account]). Every backend [Open] builds, not only the file
	// backend, writes it into the source's checkpoints and refuses to load
	// one of another account with an [*AccountMismatchError].
	Account string
}

// accounts returns the accounts of spec.Files by source.
func (spec Spec) accounts() map[string]string {
	out := map[string]string{}
	for _, f := range spec.Files {
		if f.Account != "" {
			out[f.Source] = f.Account
		}
	}
	return out
}

// Fencing is implemented by stores that replicas can share, each polling
// the sources a consumer group assigns it. Fenced returns the view the
// owner of a source saves through: a stale owner that saves after a newer
// one loaded is ignored by every later Load, so the checkpoint never moves
// backwards, and an owner that finds its epoch taken by another member is
// refused with a [*FencedError] (see [FencedStore]). The view's Close does
// not close the store. Only such a store lets `run` share its sources with
// other replicas.
type Fencing interface {
	Fenced(owner Owner) Store
}

// Owner is the owner of a source in a consumer group, as the lease that
// made it the owner names it.
type Owner struct {
	// Generation is the group generation that granted the source.
	Generation uint64
	// Member is the owner's member id in the group.
	Member string
}

// backend is what Open and Spec.Where know of one backend.
type backend struct {
	// open builds the store.
	open func(context.Context, Spec) (Store, error)
	// where says where the store keeps a source's checkpoint, for a person.
	where func(spec Spec, source string) string
}

// backends are the backends by name. A backend is a Store implementation
// plus its entry here, its settings in package config and a section of
// docs/checkpoints.md.
var backends = map[string]backend{
	BackendFile:  {open: openFiles, where: fileOf},
	BackendKafka: {open: openKafka, where: func(spec Spec, _ string) string { return "topic " + cmp.Or(spec.Topic, DefaultTopic) }},
}

// Open builds the store spec asks for: it opens (and locks) every file of
// the file backend, or connects to Kafka and checks the topic (creating it
// when missing). One Close releases all of it.
func Open(ctx context.Context, spec Spec) (Store, error) {
	b, ok := backends[spec.Backend]
	if !ok {
		names := slices.Sorted(maps.Keys(backends))
		return nil, fmt.Errorf("checkpoint backend %q is unknown, want one of %s", spec.Backend, strings.Join(names, ", "))
	}
	return b.open(ctx, spec)
}

// Where says where the store spec asks for keeps the checkpoint of source,
// for a person: the file, or the topic. It is empty for an unknown backend
// or, with the file backend, a source without a file.
func (spec Spec) Where(source string) string {
	b, ok := backends[spec.Backend]
	if !ok {
		return ""
	}
	return b.where(spec, source)
}

func openKafka(ctx context.Context, spec Spec) (Store, error) {
	st, err := NewKafka(ctx, KafkaConfig{
		Brokers:     spec.Brokers,
		Topic:       spec.Topic,
		Replication: spec.Replication,
		Transport:   spec.Transport,
		Accounts:    spec.accounts(),
		Logger:      spec.Logger,
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
