package checkpoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"
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

// genHeader is the record header carrying a chunk's generation.
const genHeader = "generation"

// chunkOverhead is the room a chunk record needs beyond its value (key,
// headers, framing), both in a writer's batch and under the topic's
// max.message.bytes.
const chunkOverhead = 4 << 10

// fetchMaxBytes is how much one fetch asks for while reading the topic.
const fetchMaxBytes = 8 << 20

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
	// genHeader), keeps the name "generation" that earlier builds wrote and
	// read, so topics stay compatible both ways.
	Sequence uint64 `json:"generation"`
	// Epoch is the fencing epoch of the owner that wrote it (see Fenced);
	// 0 for a store used without one. Load takes the manifest with the
	// highest epoch, the latest among equals.
	Epoch   uint64    `json:"epoch,omitempty"`
	Chunks  int       `json:"chunks"`
	Length  int64     `json:"length"`
	SHA256  string    `json:"sha256"`
	SavedAt time.Time `json:"savedAt"`
}

// NewKafka connects to the cluster, creates the topic when it is missing
// (cleanup.policy=compact, one partition) and checks that it is compacted.
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
	s := &KafkaStore{topic: cfg.Topic, chunkSize: cfg.ChunkSize, seqs: map[string]seqState{}}
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
// log cleaner compact superseded generations early, since Load reads the
// partition from its start and the active segment is never compacted.
var topicConfigs = []kafka.ConfigEntry{
	{ConfigName: "cleanup.policy", ConfigValue: "compact"},
	{ConfigName: "segment.bytes", ConfigValue: strconv.Itoa(64 << 20)},
}

// firstPartition sends every record to partition 0, so a source's chunks
// and manifest stay ordered and adding partitions later moves nothing.
type firstPartition struct{}

func (firstPartition) Balance(kafka.Message, ...int) int { return 0 }

func (s *KafkaStore) ensureTopic(ctx context.Context, replication int) error {
	md, err := s.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.topic}})
	if err != nil {
		return fmt.Errorf("checkpoint topic %s: metadata: %w", s.topic, err)
	}
	exists := len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) > 0
	if !exists {
		if replication == 0 {
			replication = -1
		}
		res, err := s.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic:             s.topic,
			NumPartitions:     1,
			ReplicationFactor: replication,
			ConfigEntries:     topicConfigs,
		}}})
		if err == nil {
			err = res.Errors[s.topic]
		}
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("checkpoint topic %s: create: %w", s.topic, err)
		}
	}
	return s.checkTopicConfig(ctx)
}

// checkTopicConfig requires cleanup.policy=compact (without delete, which
// would expire a checkpoint not saved for retention.ms) and a
// max.message.bytes that fits a chunk.
func (s *KafkaStore) checkTopicConfig(ctx context.Context) error {
	var (
		res *kafka.DescribeConfigsResponse
		err error
	)
	// A topic created a moment ago may not be known to every broker yet.
	for attempt := 0; ; attempt++ {
		res, err = s.client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic,
			ResourceName: s.topic,
			ConfigNames:  []string{"cleanup.policy", "max.message.bytes"},
		}}})
		if err == nil && len(res.Resources) == 1 {
			err = res.Resources[0].Error
		}
		if err == nil || attempt == 20 || !errors.Is(err, kafka.UnknownTopicOrPartition) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("checkpoint topic %s: describe configs: %w", s.topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("checkpoint topic %s: describe configs: %w", s.topic, err)
	}
	if len(res.Resources) != 1 {
		return fmt.Errorf("checkpoint topic %s: describe configs: %d resources in the answer, want 1", s.topic, len(res.Resources))
	}
	policy := "delete" // Kafka's default
	for _, e := range res.Resources[0].ConfigEntries {
		switch e.ConfigName {
		case "cleanup.policy":
			policy = e.ConfigValue
		case "max.message.bytes":
			if limit, err := strconv.Atoi(e.ConfigValue); err == nil && s.chunkSize+chunkOverhead > limit {
				return fmt.Errorf("checkpoint topic %s: max.message.bytes=%d is too small for chunks of %d bytes", s.topic, limit, s.chunkSize)
			}
		}
	}
	if strings.ReplaceAll(policy, " ", "") != "compact" {
		return fmt.Errorf("checkpoint topic %s has cleanup.policy=%s, want compact: set it with kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact, or choose another CHECKPOINT_TOPIC", s.topic, policy, s.topic)
	}
	return nil
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
// source's manifest of the highest epoch (the latest among equals),
// assembles its chunks and verifies them.
func (s *KafkaStore) Load(ctx context.Context, source string) (*Checkpoint, error) {
	cp, _, err := s.load(ctx, source)
	return cp, err
}

// load is Load that also returns the epoch of the manifest it read (0 when
// there was none).
func (s *KafkaStore) load(ctx context.Context, source string) (*Checkpoint, uint64, error) {
	if err := validSource(source); err != nil {
		return nil, 0, fmt.Errorf("load checkpoint from topic %s: %w", s.topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := s.scan(ctx, source, true)
	if err != nil {
		return nil, 0, err
	}
	if sc.manifest == nil {
		s.seqs[source] = seqState{chunks: sc.highest}
		return nil, 0, fmt.Errorf("checkpoint in topic %s key %s: %w", s.topic, source, ErrNotFound)
	}
	m, err := s.parseManifest(source, sc.manifest)
	if err != nil {
		return nil, 0, err
	}
	s.seqs[source] = seqState{seq: m.Sequence, epoch: m.Epoch, chunks: sc.highest}
	cp, err := s.assembleCheckpoint(source, m, sc)
	return cp, m.Epoch, err
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

// assemble joins the chunks of m's sequence and checks their checksum.
func (s *KafkaStore) assemble(source string, m *manifest, chunks map[string]chunk) ([]byte, error) {
	payload := make([]byte, 0, m.Length)
	for i := range m.Chunks {
		key := chunkKey(source, slot{m.Epoch, m.Sequence % 2}, i)
		c, ok := chunks[key]
		if !ok || c.gen != m.Sequence {
			return nil, &CorruptError{Topic: s.topic, Key: source, Reason: fmt.Sprintf(
				"chunk %s of sequence %d is missing (found sequence %d)", key, m.Sequence, c.gen)}
		}
		if int64(len(payload)+len(c.value)) > m.Length {
			return nil, &CorruptError{Topic: s.topic, Key: source, Reason: fmt.Sprintf(
				"chunks of sequence %d hold more than the %d bytes announced", m.Sequence, m.Length)}
		}
		payload = append(payload, c.value...)
	}
	if int64(len(payload)) != m.Length {
		return nil, &CorruptError{Topic: s.topic, Key: source, Reason: fmt.Sprintf(
			"chunks of sequence %d hold %d bytes, manifest announces %d", m.Sequence, len(payload), m.Length)}
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
	// manifest is the value of the manifest of the highest epoch, the
	// latest among equals; nil when none, or deleted since.
	manifest []byte
	epoch    uint64 // the epoch of manifest
	chunks   map[string]chunk
	highest  map[slot]int // one more than the highest chunk index seen
}

type chunk struct {
	gen   uint64
	value []byte
}

// ScanRetryTime bounds how long a load or save retries reading the
// checkpoint partition while Kafka answers with errors it calls temporary.
const ScanRetryTime = 30 * time.Second

// scan reads the partition from its first offset to the high watermark and
// keeps the latest manifest of source and, with values, the latest record
// of each of its chunk keys. It starts over, within ctx and
// [ScanRetryTime], after an error Kafka calls temporary: while the
// partition's leader is being elected (a broker restarted, the topic was
// created a moment ago) brokers answer NotLeaderForPartition or
// LeaderNotAvailable, and a takeover must not fail on that.
func (s *KafkaStore) scan(ctx context.Context, source string, values bool) (*scanned, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 50*time.Millisecond, 2*time.Second, ScanRetryTime
	var sc *scanned
	err := backoff.Retry(func() error {
		var err error
		sc, err = s.scanOnce(ctx, source, values)
		var ke kafka.Error
		if err != nil && !(errors.As(err, &ke) && ke.Temporary()) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx))
	return sc, err
}

// scanOnce is one pass of scan.
func (s *KafkaStore) scanOnce(ctx context.Context, source string, values bool) (*scanned, error) {
	where := fmt.Sprintf("read checkpoint topic %s", s.topic)
	lo, err := s.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		s.topic: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)},
	}})
	if err != nil {
		return nil, fmt.Errorf("%s: list offsets: %w", where, err)
	}
	var first, end int64 = -1, -1
	for _, p := range lo.Topics[s.topic] {
		if p.Partition != 0 {
			continue
		}
		if p.Error != nil {
			return nil, fmt.Errorf("%s: list offsets: %w", where, p.Error)
		}
		first, end = p.FirstOffset, p.LastOffset
	}
	if first < 0 || end < 0 {
		return nil, fmt.Errorf("%s: list offsets: no answer for partition 0", where)
	}
	sc := &scanned{chunks: map[string]chunk{}, highest: map[slot]int{}}
	for offset := first; offset < end; {
		res, err := s.client.Fetch(ctx, &kafka.FetchRequest{
			Topic: s.topic, Partition: 0, Offset: offset,
			MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: time.Second,
		})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return nil, fmt.Errorf("%s: fetch at offset %d: %w", where, offset, err)
		}
		next, err := s.readRecords(res.Records, source, values, offset, end, sc)
		if err != nil {
			return nil, fmt.Errorf("%s at offset %d: %w", where, offset, err)
		}
		if next == offset {
			// Only control records or an emptied batch here: step over it.
			next++
		}
		offset = next
	}
	return sc, nil
}

// readRecords consumes one fetch's records in [offset, end) and returns the
// offset after the last one read.
func (s *KafkaStore) readRecords(rr kafka.RecordReader, source string, values bool, offset, end int64, sc *scanned) (int64, error) {
	next := offset
	for {
		r, err := rr.ReadRecord()
		if errors.Is(err, io.EOF) {
			return next, nil
		}
		if err != nil {
			return next, err
		}
		if r.Offset < offset || r.Offset >= end {
			continue
		}
		next = r.Offset + 1
		key, err := readBytes(r.Key)
		if err != nil {
			return next, fmt.Errorf("key: %w", err)
		}
		if string(key) == source {
			v, err := readBytes(r.Value)
			if err != nil {
				return next, fmt.Errorf("value: %w", err)
			}
			// A tombstone starts the source afresh; otherwise the highest
			// epoch wins and a stale owner's later manifest is ignored.
			epoch := manifestEpoch(v)
			if v == nil || sc.manifest == nil || epoch >= sc.epoch {
				sc.manifest, sc.epoch = v, epoch
			}
			continue
		}
		sl, n, ok := parseChunkKey(string(key), source)
		if !ok {
			continue
		}
		if r.Value == nil {
			delete(sc.chunks, string(key))
			continue
		}
		sc.highest[sl] = max(sc.highest[sl], n+1)
		if !values {
			continue
		}
		var gen uint64
		for _, h := range r.Headers {
			if h.Key == genHeader {
				gen, _ = strconv.ParseUint(string(h.Value), 10, 64)
			}
		}
		v, err := readBytes(r.Value)
		if err != nil {
			return next, fmt.Errorf("value: %w", err)
		}
		sc.chunks[string(key)] = chunk{gen: gen, value: v}
	}
}

// manifestEpoch returns the epoch of a manifest value, 0 when it has none
// or is not a manifest (parseManifest reports that).
func manifestEpoch(v []byte) uint64 {
	var m struct {
		Epoch uint64 `json:"epoch"`
	}
	if json.Unmarshal(v, &m) != nil {
		return 0
	}
	return m.Epoch
}

func readBytes(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	buf := make([]byte, b.Len())
	_, err := io.ReadFull(b, buf)
	return buf, err
}

// Save writes cp as sequence N+1 where N is the sequence of the current
// manifest: first its chunks (under the keys of parity (N+1)%2, which the
// current manifest does not use) and deletions of leftover chunks of that
// parity, then, once those are acknowledged by all in-sync replicas, the new
// manifest. It returns when the manifest is acknowledged.
func (s *KafkaStore) Save(ctx context.Context, cp *Checkpoint) error {
	return s.save(ctx, cp, 0)
}

// save is Save with the manifest and chunks stamped with epoch. Chunk keys
// of lower epochs seen on the topic are deleted once the new manifest is
// acknowledged (best effort: leftovers are deleted by a later save).
func (s *KafkaStore) save(ctx context.Context, cp *Checkpoint, epoch uint64) error {
	if err := validCheckpoint(cp); err != nil {
		return fmt.Errorf("save checkpoint to topic %s: %w", s.topic, err)
	}
	payload, err := encodeBytes(cp)
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
			Headers: []kafka.Header{{Key: genHeader, Value: seqValue}},
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
		Format:   manifestFormat,
		Version:  FormatVersion,
		Source:   cp.Source,
		Sequence: seq,
		Epoch:    epoch,
		Chunks:   count,
		Length:   int64(len(payload)),
		SHA256:   hex.EncodeToString(sum[:]),
		SavedAt:  cp.SavedAt.UTC(),
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

// Fenced implements [Fencing] with a [*FencedStore]: manifests and chunk
// keys carry the view's epoch, and Load takes the manifest of the highest
// epoch.
func (s *KafkaStore) Fenced(generation uint64) Store { return fence(s, generation) }

var (
	_ Fencing    = (*KafkaStore)(nil)
	_ epochStore = (*KafkaStore)(nil)
)

// currentEpoch returns the epoch of the manifest Load would read.
func (s *KafkaStore) currentEpoch(ctx context.Context, source string) (uint64, error) {
	if err := validSource(source); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := s.scan(ctx, source, false)
	if err != nil {
		return 0, err
	}
	return sc.epoch, nil
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
