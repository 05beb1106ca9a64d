package checkpoint

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
)

// DefaultTopic is the checkpoint topic used when KafkaConfig.Topic is empty.
const DefaultTopic = "jelou.producer.checkpoints"

// Chunk sizes of the Kafka backend.
const (
	DefaultChunkSize = 512 << 10
	// MaxChunkSize keeps a chunk record, with its key and headers, under
	// the broker's default message.max.bytes (1048588).
	MaxChunkSize = 1000 << 10
)

// manifestFormat is the "format" field of a manifest record.
const manifestFormat = "jelou-producer-checkpoint-manifest"

// seqHeader is the record header carrying a chunk's sequence; its name on
// the wire stays "generation", which earlier builds wrote and read.
const seqHeader = "generation"

// chunkOverhead is the room a chunk record needs beyond its value (key,
// headers, framing), both in a writer's batch and under the topic's
// max.message.bytes.
const chunkOverhead = 4 << 10

// KafkaConfig configures a KafkaStore. Zero fields mean the default.
type KafkaConfig struct {
	// Brokers are bootstrap addresses (host:port). Required.
	Brokers []string
	// Topic is the compacted checkpoint topic. Default: DefaultTopic.
	Topic string
	// Replication is the replication factor used when the topic is created.
	// Default (0): the broker's default.replication.factor.
	Replication int
	// ChunkSize is the largest record value written. Default:
	// DefaultChunkSize; at most MaxChunkSize and the topic's
	// max.message.bytes less 4 KiB.
	ChunkSize int
	// Transport carries every request, so the service can pass the one that
	// holds its TLS and SASL settings; the store does not close it.
	// Default: a new kafka.Transport without TLS or SASL, closed by Close.
	Transport kafka.RoundTripper
	// Accounts maps a source id to the fingerprint of the account it
	// polls ([Account]): saves of the source record it and Load refuses a
	// checkpoint of another account with an [*AccountMismatchError].
	// Sources not in it are not checked.
	Accounts map[string]string
	// Logger receives the warning NewKafka logs when the topic's
	// replication factor is 1 or its min.insync.replicas below 2.
	// Default: [slog.Default].
	Logger *slog.Logger
}

// KafkaStore keeps checkpoints in a compacted Kafka topic, one manifest
// record per source plus chunk records (see the package documentation). It
// is safe for concurrent use; saves are serialised.
//
// A store remembers the sequence it last read or wrote for each source, so
// only one store may save a given source at a time, and a store that takes a
// source over from another process must Load it before saving it.
type KafkaStore struct {
	topic     string
	chunkSize int
	client    *kafka.Client
	writer    *kafka.Writer
	ownTrans  *kafka.Transport
	accounts  map[string]string // see KafkaConfig.Accounts

	mu sync.Mutex
	// seqs caches, per source, the sequence of the last manifest this
	// store knows to be on the topic. A source is absent until it was read
	// or saved, and again after a failed save (whose outcome is unknown).
	seqs map[string]seqState
}

var _ Store = (*KafkaStore)(nil)

type seqState struct {
	seq uint64
	// epoch is the fencing epoch of the manifest the sequence belongs to.
	epoch uint64
	// chunks is, per epoch and parity, one more than the highest chunk
	// index that may still hold a value (so stale chunks can be deleted).
	chunks map[slot]int
}

// slot names the chunk keys of one epoch and sequence parity.
type slot struct{ epoch, parity uint64 }

// manifest is the value of the record keyed by the source id.
type manifest struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Source  string `json:"source"`
	// Sequence counts the saves of the source: save N+1 writes the chunk
	// keys of parity (N+1)%2. It is not the consumer group's generation
	// (see Fenced); its JSON field, like the chunks' record header (see
	// seqHeader), keeps the name "generation" that earlier builds wrote and
	// read, so topics stay compatible both ways.
	Sequence uint64 `json:"generation"`
	// Epoch is the fencing epoch of the owner that wrote it (see Fenced);
	// 0 for a store used without one. Load takes the manifest with the
	// highest epoch and, among those, the latest of the member that wrote
	// the first of them.
	Epoch uint64 `json:"epoch,omitempty"`
	// Member and GroupGeneration name the owner that wrote it (see
	// [Owner]); empty for a store used without a view.
	Member          string    `json:"member,omitempty"`
	GroupGeneration uint64    `json:"groupGeneration,omitempty"`
	Chunks          int       `json:"chunks"`
	Length          int64     `json:"length"`
	SHA256          string    `json:"sha256"`
	SavedAt         time.Time `json:"savedAt"`
}

// NewKafka connects to the cluster, creates the topic when it is missing
// (cleanup.policy=compact, one partition) and checks that it is compacted.
// It logs a warning when the topic would not survive the loss of a broker
// (see checkDurability).
func NewKafka(ctx context.Context, cfg KafkaConfig) (*KafkaStore, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("checkpoint topic: no Kafka brokers given")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.ChunkSize < 0 || cfg.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("checkpoint topic %s: chunk size %d out of range 1..%d", cfg.Topic, cfg.ChunkSize, MaxChunkSize)
	}
	if cfg.Replication < 0 {
		return nil, fmt.Errorf("checkpoint topic %s: replication factor %d is negative", cfg.Topic, cfg.Replication)
	}
	s := &KafkaStore{topic: cfg.Topic, chunkSize: cfg.ChunkSize, seqs: map[string]seqState{}, accounts: cfg.Accounts}
	transport := cfg.Transport
	if transport == nil {
		s.ownTrans = &kafka.Transport{}
		transport = s.ownTrans
	}
	addr := kafka.TCP(cfg.Brokers...)
	s.client = &kafka.Client{Addr: addr, Transport: transport}
	if err := s.ensureTopic(ctx, cfg.Replication); err != nil {
		s.Close()
		return nil, err
	}
	s.checkDurability(ctx, cmp.Or(cfg.Logger, slog.Default()))
	s.writer = &kafka.Writer{
		Addr:         addr,
		Topic:        s.topic,
		Balancer:     firstPartition{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
		BatchBytes:   int64(s.chunkSize + chunkOverhead),
		Transport:    transport,
	}
	return s, nil
}

// topicConfigs are set on a topic NewKafka creates. Small segments let the
// log cleaner compact superseded sequences early, since Load reads the
// partition from its start and the active segment is never compacted.
var topicConfigs = map[string]string{
	"cleanup.policy": "compact",
	"segment.bytes":  strconv.Itoa(64 << 20),
}

// firstPartition sends every record to partition 0, so a source's chunks
// and manifest stay ordered and adding partitions later moves nothing.
type firstPartition struct{}

func (firstPartition) Balance(kafka.Message, ...int) int { return 0 }

// ensureTopic creates the topic when it is missing (one partition,
// topicConfigs, its leader awaited) and checks its configuration.
func (s *KafkaStore) ensureTopic(ctx context.Context, replication int) error {
	spec := kafkaadmin.Spec{Name: s.topic, Partitions: 1, Replication: replication, Config: topicConfigs}
	if _, err := kafkaadmin.EnsureTopic(ctx, s.client, spec); err != nil {
		return fmt.Errorf("checkpoint topic %s: %w", s.topic, err)
	}
	return s.checkTopicConfig(ctx)
}

// checkTopicConfig requires cleanup.policy=compact (without delete, which
// would expire a checkpoint not saved for retention.ms) and a
// max.message.bytes that fits a chunk.
func (s *KafkaStore) checkTopicConfig(ctx context.Context) error {
	cfg, err := kafkaadmin.Configs(ctx, s.client, s.topic, "cleanup.policy", "max.message.bytes")
	if err != nil {
		return fmt.Errorf("checkpoint topic %s: %w", s.topic, err)
	}
	if limit, err := strconv.Atoi(cfg["max.message.bytes"]); err == nil && s.chunkSize+chunkOverhead > limit {
		return fmt.Errorf("checkpoint topic %s: max.message.bytes=%d is too small for chunks of %d bytes", s.topic, limit, s.chunkSize)
	}
	policy, ok := cfg["cleanup.policy"]
	if !ok {
		policy = "delete" // Kafka's default
	}
	if strings.ReplaceAll(policy, " ", "") != "compact" {
		return fmt.Errorf("checkpoint topic %s has cleanup.policy=%s, want compact: set it with kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact, or choose another CHECKPOINT_TOPIC", s.topic, policy, s.topic)
	}
	return nil
}

// checkDurability logs a warning when the topic is on one broker
// (replication factor 1) or lets a write be acknowledged by one
// (min.insync.replicas below 2, Kafka's default being 1): losing that
// broker then loses, or silently rolls back, every checkpoint. A topic it
// cannot describe is logged too; neither stops the store.
func (s *KafkaStore) checkDurability(ctx context.Context, log *slog.Logger) {
	replication, err := s.replication(ctx)
	if err != nil {
		log.Warn("cannot read the checkpoint topic's replication factor", "topic", s.topic, "err", err)
		return
	}
	minISR := 1 // Kafka's default
	cfg, err := kafkaadmin.Configs(ctx, s.client, s.topic, "min.insync.replicas")
	if err != nil {
		log.Warn("cannot read the checkpoint topic's min.insync.replicas", "topic", s.topic, "err", err)
		return
	}
	if v, err := strconv.Atoi(cfg["min.insync.replicas"]); err == nil {
		minISR = v
	}
	if replication < 2 || minISR < 2 {
		log.Warn("the checkpoint topic does not survive the loss of one broker: every source's progress is on it; "+
			"give it a replication factor of 3 and min.insync.replicas=2 (kafka-reassign-partitions.sh and kafka-configs.sh, "+
			"or CHECKPOINT_TOPIC_REPLICATION before it is created)",
			"topic", s.topic, "replication_factor", replication, "min_insync_replicas", minISR)
	}
}

// replication returns the smallest replica count of the topic's
// partitions.
func (s *KafkaStore) replication(ctx context.Context) (int, error) {
	md, err := s.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata: %w", err)
	}
	for _, t := range md.Topics {
		if t.Name != s.topic || t.Error != nil || len(t.Partitions) == 0 {
			continue
		}
		n := len(t.Partitions[0].Replicas)
		for _, p := range t.Partitions[1:] {
			n = min(n, len(p.Replicas))
		}
		return n, nil
	}
	return 0, fmt.Errorf("topic %s: no partitions in the metadata", s.topic)
}

// chunkKey is "<source>/g<parity>/<n>" for epoch 0 (the only form before
// fencing existed) and "<source>/e<epoch>/g<parity>/<n>" otherwise, so that
// two owners of different epochs never write the same keys.
func chunkKey(source string, sl slot, n int) string {
	prefix := source + "/"
	if sl.epoch > 0 {
		prefix += "e" + strconv.FormatUint(sl.epoch, 10) + "/"
	}
	return prefix + "g" + strconv.FormatUint(sl.parity, 10) + "/" + strconv.Itoa(n)
}

// parseChunkKey splits a chunk key of source (see chunkKey).
func parseChunkKey(key, source string) (sl slot, n int, ok bool) {
	rest, found := strings.CutPrefix(key, source+"/")
	if !found {
		return slot{}, 0, false
	}
	if e, after, found := strings.Cut(rest, "/"); found && strings.HasPrefix(e, "e") {
		v, err := strconv.ParseUint(e[1:], 10, 64)
		if err != nil || v == 0 || strconv.FormatUint(v, 10) != e[1:] {
			return slot{}, 0, false
		}
		sl.epoch, rest = v, after
	}
	rest, found = strings.CutPrefix(rest, "g")
	if !found {
		return slot{}, 0, false
	}
	p, idx, found := strings.Cut(rest, "/")
	if !found || (p != "0" && p != "1") {
		return slot{}, 0, false
	}
	n, err := strconv.Atoi(idx)
	if err != nil || n < 0 || strconv.Itoa(n) != idx {
		return slot{}, 0, false
	}
	sl.parity = uint64(p[0] - '0')
	return sl, n, true
}

// Load reads the partition from its start to the high watermark, takes the
// source's manifest of the highest epoch (among those, the latest of the
// member that wrote the first), assembles its chunks and verifies them.
func (s *KafkaStore) Load(ctx context.Context, source string) (*Checkpoint, error) {
	cp, _, err := s.load(ctx, source)
	return cp, err
}

// load is Load that also returns the stamp of the manifest it read (zero
// when there was none).
func (s *KafkaStore) load(ctx context.Context, source string) (*Checkpoint, stamp, error) {
	if err := validSource(source); err != nil {
		return nil, stamp{}, fmt.Errorf("load checkpoint from topic %s: %w", s.topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := s.scan(ctx, source, true)
	if err != nil {
		return nil, stamp{}, err
	}
	if sc.manifest == nil {
		s.seqs[source] = seqState{chunks: sc.highest}
		return nil, stamp{}, fmt.Errorf("checkpoint in topic %s key %s: %w", s.topic, source, ErrNotFound)
	}
	m, err := s.parseManifest(source, sc.manifest)
	if err != nil {
		return nil, stamp{}, err
	}
	s.seqs[source] = seqState{seq: m.Sequence, epoch: m.Epoch, chunks: sc.highest}
	cp, err := s.assembleCheckpoint(source, m, sc)
	return cp, m.stamp(), err
}

// assembleCheckpoint joins, verifies and decodes the checkpoint m names.
func (s *KafkaStore) assembleCheckpoint(source string, m *manifest, sc *scanned) (*Checkpoint, error) {
	payload, err := s.assemble(source, m, sc.chunks)
	if err != nil {
		return nil, err
	}
	cp, err := decode(payload)
	if err != nil {
		return nil, locate(err, "", s.topic, source)
	}
	if cp.Source != source {
		return nil, &SourceMismatchError{Topic: s.topic, Key: source, Want: source, Found: cp.Source}
	}
	if err := checkAccount(cp, s.accounts[source]); err != nil {
		return nil, locate(err, "", s.topic, source)
	}
	return cp, nil
}

func (s *KafkaStore) parseManifest(source string, value []byte) (*manifest, error) {
	bad := func(format string, args ...any) error {
		return &CorruptError{Topic: s.topic, Key: source, Reason: "manifest: " + fmt.Sprintf(format, args...)}
	}
	var m manifest
	if err := json.Unmarshal(value, &m); err != nil {
		return nil, bad("not valid JSON: %v", err)
	}
	switch {
	case m.Format != manifestFormat:
		return nil, bad("format %q, want %q", m.Format, manifestFormat)
	case m.Version > FormatVersion:
		return nil, &VersionError{Topic: s.topic, Key: source, Found: m.Version, Supported: FormatVersion}
	case m.Version < 1:
		return nil, bad("invalid version %d", m.Version)
	case m.Source != source:
		return nil, bad("names source %q", m.Source)
	case m.Sequence == 0:
		return nil, bad("sequence 0")
	case m.Length <= 0 || m.Length > MaxSize:
		return nil, bad("invalid length %d", m.Length)
	case m.Chunks <= 0 || int64(m.Chunks) > m.Length:
		return nil, bad("invalid chunk count %d for %d bytes", m.Chunks, m.Length)
	case len(m.SHA256) != 64:
		return nil, bad("invalid sha256 %q", m.SHA256)
	}
	return &m, nil
}

// assemble joins the chunks of m's sequence and checks their checksum. It
// finds the chunks and adds up their lengths before it allocates, so the
// buffer is as large as what was received, never what the manifest claims.
func (s *KafkaStore) assemble(source string, m *manifest, chunks map[string]chunk) ([]byte, error) {
	parts := make([][]byte, 0, min(m.Chunks, len(chunks)))
	var total int64
	for i := range m.Chunks {
		key := chunkKey(source, slot{m.Epoch, m.Sequence % 2}, i)
		c, ok := chunks[key]
		if !ok || c.seq != m.Sequence {
			return nil, &CorruptError{Topic: s.topic, Key: source, Reason: fmt.Sprintf(
				"chunk %s of sequence %d is missing (found sequence %d)", key, m.Sequence, c.seq)}
		}
		total += int64(len(c.value))
		if total > m.Length {
			return nil, &CorruptError{Topic: s.topic, Key: source, Reason: fmt.Sprintf(
				"chunks of sequence %d hold more than the %d bytes announced", m.Sequence, m.Length)}
		}
		parts = append(parts, c.value)
	}
	if total != m.Length {
		return nil, &CorruptError{Topic: s.topic, Key: source, Reason: fmt.Sprintf(
			"chunks of sequence %d hold %d bytes, manifest announces %d", m.Sequence, total, m.Length)}
	}
	payload := make([]byte, 0, total)
	for _, p := range parts {
		payload = append(payload, p...)
	}
	sum := sha256.Sum256(payload)
	if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
		return nil, &CorruptError{Topic: s.topic, Key: source, Reason: fmt.Sprintf(
			"checksum mismatch in sequence %d: manifest sha256 %s, chunks %s", m.Sequence, m.SHA256, got)}
	}
	return payload, nil
}

// scanned is what one pass over the partition found for a source.
type scanned struct {
	// manifest is the value of the manifest of the highest epoch and,
	// among those, the latest of the member that wrote the first (the
	// epoch's claimant); nil when none, or deleted since.
	manifest []byte
	stamp    stamp // the stamp of manifest
	chunks   map[string]chunk
	highest  map[slot]int // one more than the highest chunk index seen
}

type chunk struct {
	seq   uint64 // the sequence of the save that wrote it
	value []byte
}

// ScanRetryTime bounds how long a load or save retries reading the
// checkpoint partition while Kafka answers with errors it calls temporary.
const ScanRetryTime = kafkaadmin.RetryTime

// scan reads the partition from its first offset to the high watermark and
// keeps the latest manifest of source and, with values, the latest record
// of each of its chunk keys. It rides out, within ctx and [ScanRetryTime],
// errors Kafka calls temporary ([kafkaadmin.ReadPartition]): while the
// partition's leader is being elected (a broker restarted, the topic was
// created a moment ago) brokers answer NotLeaderForPartition or
// LeaderNotAvailable, and a takeover must not fail on that.
func (s *KafkaStore) scan(ctx context.Context, source string, values bool) (*scanned, error) {
	sc := &scanned{chunks: map[string]chunk{}, highest: map[slot]int{}}
	err := kafkaadmin.ReadPartition(ctx, s.client, s.topic, 0, func(r kafka.Record) error {
		return sc.add(r, source, values)
	})
	if err != nil {
		return nil, fmt.Errorf("read checkpoint topic %s: %w", s.topic, err)
	}
	return sc, nil
}

// add takes one record of the partition into sc.
func (sc *scanned) add(r kafka.Record, source string, values bool) error {
	key, err := kafkaadmin.ReadBytes(r.Key)
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if string(key) == source {
		v, err := kafkaadmin.ReadBytes(r.Value)
		if err != nil {
			return fmt.Errorf("value: %w", err)
		}
		// A tombstone starts the source afresh; otherwise the highest
		// epoch wins and a stale owner's later manifest is ignored, and
		// so is one of an equal epoch by another member than the epoch's
		// first.
		st := manifestStamp(v)
		switch {
		case v == nil:
			sc.manifest, sc.stamp = nil, stamp{}
		case sc.manifest == nil || st.epoch > sc.stamp.epoch,
			st.epoch == sc.stamp.epoch && st.member == sc.stamp.member:
			sc.manifest, sc.stamp = v, st
		}
		return nil
	}
	sl, n, ok := parseChunkKey(string(key), source)
	if !ok {
		return nil
	}
	if r.Value == nil {
		delete(sc.chunks, string(key))
		return nil
	}
	sc.highest[sl] = max(sc.highest[sl], n+1)
	if !values {
		return nil
	}
	var seq uint64
	for _, h := range r.Headers {
		if h.Key == seqHeader {
			seq, _ = strconv.ParseUint(string(h.Value), 10, 64)
		}
	}
	v, err := kafkaadmin.ReadBytes(r.Value)
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	sc.chunks[string(key)] = chunk{seq: seq, value: v}
	return nil
}

// manifestStamp returns the stamp of a manifest value, zero when it has
// none or is not a manifest (parseManifest reports that).
func manifestStamp(v []byte) stamp {
	var m manifest
	if json.Unmarshal(v, &m) != nil {
		return stamp{}
	}
	return m.stamp()
}

// stamp returns the stamp m records.
func (m *manifest) stamp() stamp {
	return stamp{epoch: m.Epoch, member: m.Member, generation: m.GroupGeneration}
}

// Save writes cp as sequence N+1 where N is the sequence of the current
// manifest: first its chunks (under the keys of parity (N+1)%2, which the
// current manifest does not use) and deletions of leftover chunks of that
// parity, then, once those are acknowledged by all in-sync replicas, the new
// manifest. It returns when the manifest is acknowledged.
func (s *KafkaStore) Save(ctx context.Context, cp *Checkpoint) error {
	return s.save(ctx, cp, stamp{})
}

// save is Save with the manifest stamped with stamped and the chunks with
// its epoch. Chunk keys of lower epochs seen on the topic are deleted once the
// new manifest is acknowledged (best effort: leftovers are deleted by a
// later save).
func (s *KafkaStore) save(ctx context.Context, cp *Checkpoint, stamped stamp) error {
	epoch := stamped.epoch
	if err := validCheckpoint(cp); err != nil {
		return fmt.Errorf("save checkpoint to topic %s: %w", s.topic, err)
	}
	payload, err := encodeBytes(withAccount(cp, s.accounts[cp.Source]))
	if err != nil {
		return fmt.Errorf("save checkpoint to topic %s: %w", s.topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A context that has already ended writes nothing: say so plainly
	// rather than with whatever error the first broker request gets.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save checkpoint to topic %s: %w", s.topic, err)
	}
	st, ok := s.seqs[cp.Source]
	if !ok {
		sc, err := s.scan(ctx, cp.Source, false)
		if err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		st.chunks = sc.highest
		if sc.manifest != nil {
			m, err := s.parseManifest(cp.Source, sc.manifest)
			if err != nil {
				return fmt.Errorf("save checkpoint: find the current sequence: %w", err)
			}
			st.seq, st.epoch = m.Sequence, m.Epoch
		}
	}
	if st.chunks == nil {
		st.chunks = map[slot]int{}
	}
	// Until the manifest is acknowledged, what the topic holds is unknown.
	delete(s.seqs, cp.Source)

	seq := st.seq + 1
	sl := slot{epoch, seq % 2}
	var msgs []kafka.Message
	seqValue := []byte(strconv.FormatUint(seq, 10))
	for i, off := 0, 0; off < len(payload); i, off = i+1, off+s.chunkSize {
		msgs = append(msgs, kafka.Message{
			Key:     []byte(chunkKey(cp.Source, sl, i)),
			Value:   payload[off:min(off+s.chunkSize, len(payload))],
			Headers: []kafka.Header{{Key: seqHeader, Value: seqValue}},
		})
	}
	count := len(msgs)
	for i := count; i < st.chunks[sl]; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(chunkKey(cp.Source, sl, i))}) // tombstone
	}
	if err := s.writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("save checkpoint to topic %s: write %d chunks of sequence %d: %w", s.topic, count, seq, err)
	}
	sum := sha256.Sum256(payload)
	m, err := json.Marshal(manifest{
		Format:          manifestFormat,
		Version:         FormatVersion,
		Source:          cp.Source,
		Sequence:        seq,
		Epoch:           epoch,
		Member:          stamped.member,
		GroupGeneration: stamped.generation,
		Chunks:          count,
		Length:          int64(len(payload)),
		SHA256:          hex.EncodeToString(sum[:]),
		SavedAt:         cp.SavedAt.UTC(),
	})
	if err != nil {
		return fmt.Errorf("save checkpoint to topic %s: encode manifest: %w", s.topic, err)
	}
	if err := s.writer.WriteMessages(ctx, kafka.Message{Key: []byte(cp.Source), Value: m}); err != nil {
		return fmt.Errorf("save checkpoint to topic %s: write manifest of sequence %d: %w", s.topic, seq, err)
	}
	st.seq, st.epoch = seq, epoch
	st.chunks[sl] = count
	// The chunks of lower epochs are now unreferenced: delete them.
	var stale []kafka.Message
	for old, n := range st.chunks {
		if old.epoch < epoch {
			for i := range n {
				stale = append(stale, kafka.Message{Key: []byte(chunkKey(cp.Source, old, i))})
			}
			delete(st.chunks, old)
		}
	}
	s.seqs[cp.Source] = st
	if len(stale) > 0 {
		if err := s.writer.WriteMessages(ctx, stale...); err != nil {
			// The checkpoint is stored; forget what is on the topic so the
			// next save scans again and retries the deletions.
			delete(s.seqs, cp.Source)
		}
	}
	return nil
}

// Fenced implements [Fencing] with a [*FencedStore]: manifests carry the
// view's epoch and owner, chunk keys its epoch, and Load takes the manifest
// of the highest epoch (among those, the latest of the epoch's first
// member).
func (s *KafkaStore) Fenced(owner Owner) Store { return fence(s, owner) }

var (
	_ Fencing    = (*KafkaStore)(nil)
	_ epochStore = (*KafkaStore)(nil)
)

// current returns the stamp of the manifest Load would read.
func (s *KafkaStore) current(ctx context.Context, source string) (stamp, error) {
	if err := validSource(source); err != nil {
		return stamp{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := s.scan(ctx, source, false)
	if err != nil {
		return stamp{}, err
	}
	return sc.stamp, nil
}

// Close flushes nothing (Save is synchronous) and releases connections.
func (s *KafkaStore) Close() error {
	var err error
	if s.writer != nil {
		err = s.writer.Close()
	}
	if s.ownTrans != nil {
		s.ownTrans.CloseIdleConnections()
	}
	if err != nil {
		return fmt.Errorf("close checkpoint topic %s writer: %w", s.topic, err)
	}
	return nil
}
