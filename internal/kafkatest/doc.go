// Package kafkatest provides a real Kafka-protocol broker for tests, reached over
// TCP, so that every Kafka test exercises the real kafka-go client.
//
// # Tiers
//
// [Brokers] picks the first tier that is available, once per test binary:
//
//  1. external: KAFKA_TEST_BROKERS is set (comma-separated host:port), for
//     example the Apache Kafka broker that CI starts (scripts/kafka.sh).
//  2. testcontainers: a Docker engine answers; a container of
//     [ContainerImage] (the apache/kafka image docker-compose.yml runs, or
//     the stand-in scripts/images.sh builds under that name), published on
//     127.0.0.1 only, named [ContainerName] and reused by every test binary
//     while it runs. It stops and removes itself after 30 minutes, so it
//     needs no Ryuk (CI sets TESTCONTAINERS_RYUK_DISABLED=true: no registry
//     serves Ryuk's image), and carries the label [ContainerLabel].
//  3. in-process: an in-memory broker (github.com/twmb/franz-go/pkg/kfake)
//     listening on 127.0.0.1, so `go test ./...` needs nothing but Go.
//
// Set KAFKA_TEST_TIER=kfake to skip the Docker probe, or to
// "testcontainers" to fail instead of falling back when Docker is missing.
//
// # Isolation
//
// Tiers are shared by every test of a binary, so tests must not share topics:
// [Topic] creates a topic with a unique name for one test.
package kafkatest
