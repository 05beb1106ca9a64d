// Package config provides the service's configuration: one [Config] read once
// from environment variables with envconfig, its defaults, and validation
// that reports every problem in a sentence naming the variable.
//
// # Reading
//
// [Load] reads the process environment. Unset variables take the default in
// their field's tag; a variable set to the empty string is a value, not
// "unset" (so POLL_WINDOW= is an error, not 1h). Parsing is strict:
// durations need a unit ("10" is refused, "10s" is not), integers are base 10,
// numbers finite, booleans as [strconv.ParseBool] spells them. Load reports
// every variable that does not parse at once, then fills the struct with
// envconfig.
//
// The default tags are this layer's only declaration of the defaults. A
// variable mapped to a lower package's Config has the default that package
// applies to a zero field (jelou.Config.WithDefaults,
// publish.Config.WithDefaults); defaults_test.go checks each pair.
//
// # Validation
//
// [Config.Validate] takes the [Command] being run, because what is required
// differs: JELOU_CLIENT_ID and JELOU_CLIENT_SECRET for run, backfill and
// check; KAFKA_BROKERS for run and backfill. It returns an [*Error] holding a
// [*Problem] per fault, one line each, for example
//
//	POLL_WINDOW must be positive, got "0s"
//	KAFKA_COMPRESSION must be one of none, gzip, snappy, lz4, zstd; got "brotli"
//	JELOU_CLIENT_SECRET is required for run
//	POLL_CONCURRENCY must be at most 64, got "100000000"
//
// Checks come from struct tags (enum, validate, min, max, required_for),
// then the combinations listed on Validate. [Config.Warnings] lists the
// settings that are valid but unsafe (credentials in clear on the wire),
// for the commands to log at start-up.
//
// # Sources
//
// A deployment serves one or more Jelou accounts, sources. With SOURCES
// empty there is one, [DefaultSourceID], configured by JELOU_* and
// KAFKA_TOPIC. SOURCES=acme,eu-1 names sources instead; each reads
// SOURCE_<ID>_* variables ([SourcePrefix], [SourceVariables]): its own
// credentials, and overrides of a few JELOU_* variables and KAFKA_TOPIC.
// [Config.Sources] returns them resolved, for the service to consume.
//
// # Secrets
//
// JELOU_CLIENT_SECRET, SOURCE_<ID>_CLIENT_SECRET and KAFKA_SASL_PASSWORD
// have type [jelou.Secret], which prints, logs and marshals as "[REDACTED]"
// ("" when unset). Config's String, GoString and LogValue show every
// variable with secrets redacted, so a Config may be logged whole; messages
// never quote a secret. Credentials may also come from files (mounted
// secrets) named by the _FILE variables: JELOU_CLIENT_SECRET_FILE,
// SOURCE_<ID>_CLIENT_SECRET_FILE, KAFKA_SASL_PASSWORD_FILE, and the client
// id forms.
//
// # Documentation
//
// [Variables] lists every variable (name, type, default, the commands that
// require it, description, secrecy) by reflection over the tags, so the list
// cannot drift from what Load reads. [TextTable] renders it for
// `jelou-producer config`; [MarkdownTable] renders the tables of
// docs/configuration.md, that of [Variables] and that of [SourceVariables].
package config
