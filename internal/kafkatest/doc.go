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
//     the stand-in scripts/images.sh builds under that name) is started with
//     testcontainers-go, published on 127.0.0.1 only. Ryuk removes it when
//     the test binary exits; with Ryuk off (TESTCONTAINERS_RYUK_DISABLED=true,
//     as in CI, where no registry serves its image) it stops and removes
//     itself after 30 minutes, and carries the label [ContainerLabel] for
//     `docker rm -f $(docker ps -aq --filter label=...)`.
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
