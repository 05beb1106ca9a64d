// Command jelou-producer streams the conversations Jelou's human agents
// attended into Kafka, one CloudEvents JSON event per (conversation, state).
//
// Usage:
//
//	jelou-producer [run]                      the long-lived service
//	jelou-producer backfill --from T --to T   one bounded range, then exit
//	jelou-producer demo                       simulated API + in-process Kafka, live view
//	jelou-producer check                      validate config, reach the API and the topic
//	jelou-producer config [--markdown]        every variable, its default and meaning
//	jelou-producer healthcheck [--ready]      GET this host's /healthz or /readyz (the image's HEALTHCHECK)
//	jelou-producer version
//
// Configuration comes from environment variables (see `jelou-producer
// config`). Exit status: 0 on success and clean shutdown, 1 on an
// unrecoverable runtime error, 2 on a usage or configuration error (a schema
// or credentials the Schema Registry refuses at start-up included), 3 when
// the Jelou API rejects the credentials of a backfill or of a single-source
// run at start-up (a source's later failures stop it alone: see
// docs/guarantees.md, "Failure isolation").
package main

import (
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
