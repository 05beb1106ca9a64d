package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Command names a jelou-producer subcommand. Which variables are required
// depends on it (see [Config.Validate]).
type Command string

// The subcommands of jelou-producer.
const (
	CommandRun      Command = "run"
	CommandBackfill Command = "backfill"
	CommandDemo     Command = "demo"
	CommandCheck    Command = "check"
	CommandConfig   Command = "config"
	CommandVersion  Command = "version"
)

// Config is the whole configuration of the service, read from the environment
// once by [Load]. Every field carries its variable name (envconfig tag), its
// default, its meaning (desc) and its checks; [Variables] lists them.
//
// The groups are embedded so that envconfig reads each variable under its
// full name and nothing else (a named sub-struct would make envconfig fall
// back to the bare suffix, so CHECKPOINT_PATH would read $PATH). Refer to
// fields through their group: cfg.Kafka.Topic, cfg.Checkpoint.Topic.
//
// Printing, %#v and slog never show a [jelou.Secret]. The zero Config is not
// valid (its enums are empty): build one in code from [Defaults].
type Config struct {
	Jelou
	// SourceIDs lists the named sources (Jelou accounts) served, each
	// configured by its SOURCE_<ID>_* variables; empty serves the default
	// source of JELOU_*. Use [Config.Sources] rather than reading it.
	SourceIDs SourceIDs `envconfig:"SOURCES" desc:"comma-separated ids of the Jelou accounts served, each configured by SOURCE_<ID>_* variables (below); empty serves one account from JELOU_*"`
	Poll
	Kafka
	SchemaRegistry
	Checkpoint
	Group
	HTTP
	Log

	// ShutdownTimeout bounds the whole drain on SIGINT/SIGTERM.
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"15s" validate:"positive" desc:"time allowed to flush Kafka, save the checkpoint and stop the HTTP server on SIGTERM"`
	// EventSource overrides the CloudEvents "source" attribute. Empty means the
	// event package's default.
	EventSource string `envconfig:"EVENT_SOURCE" validate:"uri-reference" desc:"overrides the CloudEvents source attribute of published events; empty keeps the built-in source"`

	// sources holds what Load read for each named source, by id.
	sources map[string]sourceSettings
	// strays are Load's findings about SOURCE_* variables of no listed
	// source, reported by Validate.
	strays problems
}

// Jelou configures the API client.
type Jelou struct {
	// BaseURL is the API root, http or https.
	BaseURL string `envconfig:"JELOU_BASE_URL" default:"https://api.jelou.ai" validate:"url" desc:"Jelou API base URL (http or https)"`
	// ClientID and ClientSecret are the API credentials.
	ClientID     string       `envconfig:"JELOU_CLIENT_ID" required_for:"run,backfill,check" credential:"true" desc:"Jelou API client id"`
	ClientSecret jelou.Secret `envconfig:"JELOU_CLIENT_SECRET" required_for:"run,backfill,check" credential:"true" desc:"Jelou API client secret"`
	// ClientIDFile and ClientSecretFile name files (mounted secrets) that
	// [Load] reads into ClientID and ClientSecret, trailing newlines trimmed.
	// Each excludes its plain variable.
	ClientIDFile     string `envconfig:"JELOU_CLIENT_ID_FILE" file:"JELOU_CLIENT_ID" credential:"true" desc:"file holding the Jelou API client id (a mounted secret), instead of JELOU_CLIENT_ID"`
	ClientSecretFile string `envconfig:"JELOU_CLIENT_SECRET_FILE" file:"JELOU_CLIENT_SECRET" credential:"true" desc:"file holding the Jelou API client secret (a mounted secret), instead of JELOU_CLIENT_SECRET"`
	// AuthScheme is "basic" (Authorization: Basic base64(id:secret)) or "raw"
	// (Authorization: id:secret); the vendor documents both.
	AuthScheme string `envconfig:"JELOU_AUTH_SCHEME" default:"basic" enum:"basic,raw" desc:"Authorization header: basic = Basic base64(id:secret), raw = id:secret"`
	// PageSize is the "limit" sent with each request.
	PageSize int `envconfig:"JELOU_PAGE_SIZE" default:"100" validate:"positive" max:"1000" desc:"rows asked for per request (the API's limit), 1 to 1000"`
	// Timezone is the zone of response timestamps that carry no offset.
	Timezone Zone `envconfig:"JELOU_TIMEZONE" default:"UTC" desc:"IANA zone of response timestamps without an offset"`
	// RateLimit is the client-side request budget per second, shared by all
	// windows in flight.
	RateLimit float64 `envconfig:"JELOU_RATE_LIMIT" default:"5" validate:"positive" max:"1000000" desc:"client-side request budget, requests per second, shared by all windows; above 0, at most 1000000"`
	// RateBurst is how many requests may go at once when the budget has been idle.
	RateBurst int `envconfig:"JELOU_RATE_BURST" default:"1" validate:"positive" max:"1000" desc:"requests allowed at once after an idle period, 1 to 1000"`
	// Timeout bounds one HTTP request, body included.
	Timeout time.Duration `envconfig:"JELOU_TIMEOUT" default:"30s" validate:"positive" min:"1s" max:"10m" desc:"time limit of one API request, body included; 1s to 10m"`
	// MaxRetryTime bounds the retries of one request (5xx, network, 429).
	MaxRetryTime time.Duration `envconfig:"JELOU_MAX_RETRY_TIME" default:"2m" validate:"positive" desc:"give up retrying one request (5xx, network errors, 429) after this long"`
	// MaxBodyBytes bounds a response body; a larger one is an error.
	MaxBodyBytes ByteSize `envconfig:"JELOU_MAX_BODY_BYTES" default:"32MiB" validate:"positive" desc:"largest response body accepted"`
}

// Poll configures the windows walked over the API.
type Poll struct {
	// StartAt is where the first window starts when there is no checkpoint.
	StartAt StartAt `envconfig:"POLL_START_AT" default:"24h" desc:"first window start without a checkpoint: RFC 3339 time, or a duration meaning that long ago"`
	// Window is the length of one history window (and the longest piece of
	// any other query).
	Window time.Duration `envconfig:"POLL_WINDOW" default:"1h" validate:"positive" desc:"length of one history window, and the longest piece of any query"`
	// Interval is how often the live and settle lanes run.
	Interval time.Duration `envconfig:"POLL_INTERVAL" default:"1m" validate:"positive" desc:"how often the live edge is polled (and recent start times re-read)"`
	// Lag is how far behind now the live edge stays. 0 polls up to now.
	Lag time.Duration `envconfig:"POLL_LAG" default:"30s" validate:"nonnegative" desc:"how far behind now the live edge stays"`
	// Revisit is how long conversations seen in a non-terminal state are
	// re-checked. 0 disables revisits.
	Revisit time.Duration `envconfig:"POLL_REVISIT" default:"48h" validate:"nonnegative" desc:"how long non-terminal conversations are re-checked (0 disables)"`
	// RevisitInterval is the first revisit delay; later ones back off with age.
	RevisitInterval time.Duration `envconfig:"POLL_REVISIT_INTERVAL" default:"5m" validate:"positive" desc:"delay before the first revisit of a window; later revisits back off with age"`
	// Settle is how long a recent window keeps being re-polled for late rows.
	// 0 treats a window as final after its first pass.
	Settle time.Duration `envconfig:"POLL_SETTLE" default:"15m" validate:"nonnegative" desc:"how long a recent window keeps being re-polled for late rows (0 disables)"`
	// SettleHot is the age below which start times are re-read on every
	// interval when re-reading by age (POLL_SETTLE_REREAD).
	SettleHot time.Duration `envconfig:"POLL_SETTLE_HOT" default:"2m" validate:"nonnegative" desc:"when re-reading by age, start times younger than this are re-read every interval (auto may re-read more when the budget allows)"`
	// SettleReread is how the settle lane re-reads recent start times:
	// "by-age" re-reads each once while its age doubles (a tick costs a few
	// intervals' volume whatever POLL_SETTLE is), "all" re-reads the whole
	// unsettled range every interval, "auto" (the default) picks all or
	// by-age by the budget, "by-loss" plans from what it learns of the
	// traffic (busy accounts).
	SettleReread string `envconfig:"POLL_SETTLE_REREAD" default:"auto" enum:"auto,by-age,all,by-loss" desc:"how recent start times are re-read for late rows and state changes: all (the whole settle period every interval), by-age (POLL_SETTLE_HOT every interval, older start times once each time their age doubles), auto (all while it fits in half the request budget, else by age), by-loss (learned from the traffic: the start times that still gain rows often enough to see every active state visible for POLL_MIN_ACTIVE, those holding conversations that still change every POLL_FRESHNESS or, when the budget is short, where ends are likeliest waiting; for busy accounts, see docs/busy.md)"`
	// MinActive is how long an active state may be visible before the
	// by-loss plan must have seen it.
	MinActive time.Duration `envconfig:"POLL_MIN_ACTIVE" default:"30s" validate:"positive" desc:"by-loss: an active state visible this long is never missed while the budget allows (the start times that can still gain rows are re-read every two thirds of it)"`
	// Freshness is how soon after a state change the by-loss plan wants
	// to see it: a larger budget is not spent on more.
	Freshness time.Duration `envconfig:"POLL_FRESHNESS" default:"10s" validate:"positive" desc:"by-loss: how soon after a state change it should be seen (start times holding conversations that may still change are re-read this often while the budget allows; a larger budget is not spent on more)"`
	// Concurrency is how many windows may be in flight during a backfill.
	Concurrency int `envconfig:"POLL_CONCURRENCY" default:"4" validate:"positive" max:"64" desc:"history windows in flight during a backfill or catch-up, 1 to 64"`
	// MaxPages is how many pages one window may take before it is split.
	MaxPages int `envconfig:"POLL_MAX_PAGES" default:"50" validate:"positive" max:"10000" desc:"pages one window may take before it is split in two, 1 to 10000"`
	// MinWindow is the smallest window a split may produce (at least 1s: the
	// API filters at second granularity).
	MinWindow time.Duration `envconfig:"POLL_MIN_WINDOW" default:"1m" validate:"positive" desc:"smallest window a split may produce (at least 1s)"`
}

// Kafka configures the output topic and the producer.
type Kafka struct {
	// Brokers are the bootstrap brokers.
	Brokers HostPorts `envconfig:"KAFKA_BROKERS" required_for:"run,backfill" desc:"comma-separated bootstrap brokers, host:port each"`
	// Topic receives the events.
	Topic string `envconfig:"KAFKA_TOPIC" default:"jelou.conversations.attended" validate:"topic" desc:"output topic"`
	// DLQTopic, when set, receives the rows that can never be published
	// (too large, no _id or state, not encodable) so that the source
	// moves on; empty rejects those rows, and a row too large stops its
	// source.
	DLQTopic string `envconfig:"KAFKA_DLQ_TOPIC" validate:"optional-topic" desc:"dead-letter topic for rows that can never be published (too large, no _id or state, not encodable): the raw row with headers naming the error; empty (the default) skips such rows and stops the source on a row too large"`
	// StateTopic, when set, receives the current state of each
	// conversation: its latest state's event keyed by _id, on a compacted
	// topic (docs/state-and-watermarks.md).
	StateTopic string `envconfig:"KAFKA_STATE_TOPIC" validate:"optional-topic" desc:"compacted current-state topic: each conversation's latest state, the event's record keyed by _id; empty (the default) writes none; created compacted with KAFKA_TOPIC_CREATE, otherwise it must be compacted"`
	// WatermarkTopic, when set, receives each source's completeness
	// watermarks (docs/state-and-watermarks.md).
	WatermarkTopic string `envconfig:"KAFKA_WATERMARK_TOPIC" validate:"optional-topic" desc:"compacted topic of completeness watermarks keyed by source id (every conversation that started before completeBefore is published, with the event topic's end offsets); empty (the default) writes none"`
	// Compression is the batch compression codec.
	Compression string `envconfig:"KAFKA_COMPRESSION" default:"zstd" enum:"none,gzip,snappy,lz4,zstd" desc:"compression of record batches"`
	// Partitioner maps keys to partitions: murmur2 matches the Java client,
	// crc32 matches librdkafka, fnv matches kafka-go's Hash balancer.
	Partitioner string `envconfig:"KAFKA_PARTITIONER" default:"murmur2" enum:"murmur2,crc32,fnv" desc:"key to partition hash: murmur2 (Java clients), crc32 (librdkafka), fnv"`
	// EventMode is "structured" (the CloudEvent is the record value) or
	// "binary" (attributes in ce_ headers, data as the value).
	EventMode string `envconfig:"KAFKA_EVENT_MODE" default:"structured" enum:"structured,binary" desc:"CloudEvents Kafka binding: structured (whole event as value) or binary (ce_ headers)"`
	// ClientID is the Kafka client.id.
	ClientID string `envconfig:"KAFKA_CLIENT_ID" default:"jelou-producer" desc:"Kafka client.id"`
	// BatchSize is the most records in one produce batch.
	BatchSize int `envconfig:"KAFKA_BATCH_SIZE" default:"1000" validate:"positive" max:"1000000" desc:"most records per produce batch, 1 to 1000000"`
	// BatchBytes is the largest produce request.
	BatchBytes ByteSize `envconfig:"KAFKA_BATCH_BYTES" default:"1MiB" validate:"positive" desc:"largest produce request"`
	// Linger is how long a batch waits to fill before it is sent.
	Linger time.Duration `envconfig:"KAFKA_LINGER" default:"1ms" validate:"nonnegative" desc:"how long a batch waits to fill before it is sent"`
	// WriteTimeout bounds one produce request.
	WriteTimeout time.Duration `envconfig:"KAFKA_WRITE_TIMEOUT" default:"10s" validate:"positive" desc:"time limit of one produce request"`
	// TopicCreate creates the topic at startup when it is missing.
	TopicCreate bool `envconfig:"KAFKA_TOPIC_CREATE" default:"false" desc:"create the topic at startup when it is missing"`
	// TopicPartitions and TopicReplication are used when creating the topic.
	TopicPartitions  int `envconfig:"KAFKA_TOPIC_PARTITIONS" default:"6" validate:"positive" desc:"partitions of a created topic"`
	TopicReplication int `envconfig:"KAFKA_TOPIC_REPLICATION" default:"1" validate:"positive" desc:"replication factor of a created topic"`
	// TopicConfig holds settings of a created topic.
	TopicConfig TopicConfig `envconfig:"KAFKA_TOPIC_CONFIG" desc:"settings of a created topic, key=value,key=value (e.g. retention.ms=604800000)"`

	KafkaTLS
	KafkaSASL
}

// KafkaTLS configures TLS to the brokers.
type KafkaTLS struct {
	// Enabled turns TLS on; the file fields require it.
	Enabled bool `envconfig:"KAFKA_TLS_ENABLED" default:"false" desc:"connect to the brokers over TLS"`
	// CAFile is a PEM bundle of CAs to trust. Empty trusts the system roots.
	CAFile string `envconfig:"KAFKA_TLS_CA_FILE" desc:"PEM file of CAs to trust instead of the system roots"`
	// CertFile and KeyFile are a PEM client certificate and key, set together.
	CertFile string `envconfig:"KAFKA_TLS_CERT_FILE" desc:"PEM client certificate (with KAFKA_TLS_KEY_FILE)"`
	KeyFile  string `envconfig:"KAFKA_TLS_KEY_FILE" desc:"PEM client private key (with KAFKA_TLS_CERT_FILE)"`
	// ServerName overrides the name checked in the brokers' certificates.
	ServerName string `envconfig:"KAFKA_TLS_SERVER_NAME" desc:"name expected in the brokers' certificates, if not the broker host"`
	// InsecureSkipVerify disables certificate checks (tests only).
	InsecureSkipVerify bool `envconfig:"KAFKA_TLS_INSECURE_SKIP_VERIFY" default:"false" desc:"skip broker certificate verification (tests only)"`
}

// KafkaSASL configures SASL authentication to the brokers.
type KafkaSASL struct {
	// Mechanism is none, plain, scram-sha-256 or scram-sha-512.
	Mechanism string `envconfig:"KAFKA_SASL_MECHANISM" default:"none" enum:"none,plain,scram-sha-256,scram-sha-512" desc:"SASL mechanism"`
	// Username and Password are required unless Mechanism is none.
	Username string       `envconfig:"KAFKA_SASL_USERNAME" desc:"SASL user name (required unless KAFKA_SASL_MECHANISM is none)"`
	Password jelou.Secret `envconfig:"KAFKA_SASL_PASSWORD" desc:"SASL password (required unless KAFKA_SASL_MECHANISM is none)"`
	// PasswordFile names a file (a mounted secret) that [Load] reads into
	// Password, trailing newlines trimmed; it excludes KAFKA_SASL_PASSWORD.
	PasswordFile string `envconfig:"KAFKA_SASL_PASSWORD_FILE" file:"KAFKA_SASL_PASSWORD" desc:"file holding the SASL password (a mounted secret), instead of KAFKA_SASL_PASSWORD"`
}

// Checkpoint configures where progress is saved.
type Checkpoint struct {
	// Backend is "file" or "kafka" (a compacted topic, for containers
	// without a volume).
	Backend string `envconfig:"CHECKPOINT_BACKEND" default:"file" enum:"file,kafka" desc:"where checkpoints live: file, or kafka (a compacted topic)"`
	// Path is the checkpoint file of the file backend. The default's name,
	// jelou-producer.checkpoint, replaced checkpoint.json (the file is not
	// JSON); the file store renames a checkpoint.json it finds beside it.
	Path string `envconfig:"CHECKPOINT_PATH" default:"./data/jelou-producer.checkpoint" desc:"checkpoint file (file backend)"`
	// Topic is the compacted topic of the kafka backend.
	Topic string `envconfig:"CHECKPOINT_TOPIC" default:"jelou.producer.checkpoints" validate:"topic" desc:"compacted checkpoint topic (kafka backend)"`
	// TopicReplication is the replication factor of the checkpoint topic
	// when it is created; 0 leaves it to the broker's
	// default.replication.factor. KAFKA_TOPIC_REPLICATION (default 1) is
	// not used for it: a checkpoint topic on one broker is lost with it.
	TopicReplication int `envconfig:"CHECKPOINT_TOPIC_REPLICATION" default:"0" validate:"nonnegative" desc:"replication factor of a created checkpoint topic and of its .owners assignment topic (kafka backend); 0: the broker's default.replication.factor"`
	// Interval is the shortest time between two saves.
	Interval time.Duration `envconfig:"CHECKPOINT_INTERVAL" default:"5s" validate:"positive" desc:"shortest time between two checkpoint saves"`
}

// onTopic reports whether the backend keeps the checkpoints in Topic, which
// must then differ from every event topic. Backend names are compared here
// and in package checkpoint only (checkpoint.Open builds the store).
func (c Checkpoint) onTopic() bool { return c.Backend == "kafka" }

// HTTP configures the metrics and health server.
type HTTP struct {
	// Addr is the listen address of /metrics, /healthz and /readyz.
	Addr string `envconfig:"HTTP_ADDR" default:":9464" validate:"listen" desc:"listen address of /metrics, /healthz and /readyz"`
}

// Log configures the slog logger.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `envconfig:"LOG_LEVEL" default:"info" enum:"debug,info,warn,error" desc:"least severe level logged"`
	// Format is json or text.
	Format string `envconfig:"LOG_FORMAT" default:"json" enum:"json,text" desc:"log line format"`
}

// SlogLevel returns Level as a [slog.Level]; unknown values give info.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Load reads the configuration from the process environment. Unset variables
// take their defaults; a set but empty variable is a value like any other
// (an empty duration is an error). Enum values are matched case-insensitively
// and stored in lower case.
//
// A variable NAME_FILE (JELOU_CLIENT_SECRET_FILE) names a file, typically a
// mounted secret, whose contents, trailing newlines trimmed, become the value
// of NAME. Setting both NAME and NAME_FILE (to non-empty values) is an error,
// and so is a file that cannot be read; messages name the variable and the
// path, never the contents.
//
// Load checks only that each value parses and each file reads; it reports
// every variable that does not as an [*Error]. Call [Config.Validate] next
// for ranges, enums, required variables and combinations.
//
// With SOURCES set, Load also reads each listed source's SOURCE_<ID>_*
// variables (with envconfig, under the prefix [SourcePrefix] gives) and
// their files, and notes the SOURCE_* variables that belong to no listed
// source for Validate to report. The JELOU_*_FILE files are not read then:
// Validate reports them as unused (KAFKA_SASL_PASSWORD_FILE still is).
func Load() (Config, error) {
	var c Config
	ps := checkSyntax(&c, os.LookupEnv)
	var ids SourceIDs
	if raw, ok := os.LookupEnv("SOURCES"); ok {
		_ = ids.Decode(raw) // never fails
	}
	sources, sps := loadSources(ids, os.LookupEnv)
	if ps = append(ps, sps...); len(ps) > 0 {
		return Config{}, &Error{Problems: ps}
	}
	if err := envconfig.Process("", &c); err != nil {
		// checkSyntax accepts a subset of what envconfig does, so this is a bug.
		return Config{}, fmt.Errorf("config: read environment: %w", err)
	}
	for _, f := range fieldsOf(&c) {
		if f.tag.Get("enum") != "" {
			f.value.SetString(strings.ToLower(f.value.String()))
		}
	}
	fields := fieldsOf(&c)
	if len(c.SourceIDs) > 0 {
		// Each source reads its own credential files; Validate reports
		// the global ones as unused.
		fields = slices.DeleteFunc(fields, func(f field) bool { return f.tag.Get("credential") != "" })
	}
	if ps := readFiles(fields, ""); len(ps) > 0 {
		return Config{}, &Error{Problems: ps}
	}
	c.sources = sources
	c.strays = strayVariables(c.SourceIDs, os.Environ())
	return c, nil
}

// maxSecretFile bounds what a _FILE variable may name: a credential, not a
// file given by mistake.
const maxSecretFile = 64 << 10

// readFiles reads, for each field with a file tag and a non-empty path, the
// file into the field the tag names (prefix+tag, among fields), and reports
// a field set together with its file and a file that cannot be read.
func readFiles(fields []field, prefix string) problems {
	var ps problems
	for _, f := range fields {
		key, path := f.tag.Get("file"), f.value.String()
		if key == "" || path == "" {
			continue
		}
		target := prefix + key
		i := slices.IndexFunc(fields, func(g field) bool { return g.name == target })
		if i < 0 {
			panic("config: " + f.name + " names no field " + target) // a test reads every file variable
		}
		if !fields[i].value.IsZero() {
			ps.add(f.name, "and %s are both set; set one", target)
			continue
		}
		content, err := readSecretFile(path)
		if err != nil {
			ps.add(f.name, "names a file that cannot be read: %v", err)
			continue
		}
		fields[i].value.SetString(content)
	}
	return ps
}

// readSecretFile returns the contents of path without trailing newlines. Its
// errors name the path, never the contents.
func readSecretFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%s is larger than %s", path, ByteSize(maxSecretFile))
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Setting is one variable's effective value, as [Config.Settings] shows it.
type Setting struct {
	Name  string
	Value string // secrets are "[REDACTED]"
}

// Settings lists every variable with its value in c, in [Variables] order,
// then every variable of each named source (SOURCE_<ID>_*, in SOURCES
// order) with the value the source uses, inherited or its own; secrets
// redacted.
func (c Config) Settings() []Setting {
	fields := fieldsOf(&c)
	out := make([]Setting, len(fields))
	for i, f := range fields {
		out[i] = Setting{Name: f.name, Value: display(f.value)}
	}
	return append(out, c.sourceSettingsOf()...)
}

// String formats c as space-separated NAME=value pairs, secrets redacted.
func (c Config) String() string {
	var b strings.Builder
	for i, s := range c.Settings() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", s.Name, s.Value)
	}
	return b.String()
}

// GoString formats c for %#v, secrets redacted.
func (c Config) GoString() string {
	var b strings.Builder
	b.WriteString("config.Config{")
	for i, s := range c.Settings() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %q", s.Name, s.Value)
	}
	b.WriteString("}")
	return b.String()
}

// LogValue implements [slog.LogValuer]: a group of NAME=value, secrets redacted.
func (c Config) LogValue() slog.Value {
	settings := c.Settings()
	attrs := make([]slog.Attr, len(settings))
	for i, s := range settings {
		attrs[i] = slog.String(s.Name, s.Value)
	}
	return slog.GroupValue(attrs...)
}

// display formats a field's value for messages and Settings: Stringers
// (Duration, jelou.Secret, Zone, ...) through String, the rest with fmt's
// %v, and a string holding a URL with its credentials masked
// ([jelou.RedactURL]: JELOU_BASE_URL may carry user:password).
func display(v reflect.Value) string {
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	if v.Kind() == reflect.String && strings.Contains(v.String(), "@") {
		return jelou.RedactURL(v.String())
	}
	return fmt.Sprint(v.Interface())
}
