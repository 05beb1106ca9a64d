# Makefile for jelou-producer. Every target is a thin wrapper: the commands it
# runs work as they are.
GO       ?= go
BIN      ?= bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/jelou-producer/jelou-producer/internal/buildinfo.Version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: all build test race lint fmt fuzz bench bench-short demo sim kafka-up kafka-down test-kafka e2e ci clean

all: lint test build

build: ## build the producer and the simulator into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/jelou-producer ./cmd/jelou-producer
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/jelou-sim ./cmd/jelou-sim

test: ## the README's test command
	$(GO) test ./...

race: ## the tests with the race detector
	$(GO) test -race ./...

lint: ## gofmt, go vet, staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "not gofmt-ed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

fuzz: ## every fuzz target for FUZZTIME each (default 30s)
	scripts/fuzz.sh $(FUZZTIME)

bench: ## the benchmark harness (six scenarios)
	$(GO) run ./cmd/jelou-bench

bench-short: ## the short variant of the benchmark harness
	$(GO) run ./cmd/jelou-bench -short

demo: ## the simulated API and an in-process broker, with a live view
	$(GO) run ./cmd/jelou-producer demo

sim: ## the simulated Jelou API on 127.0.0.1:8080
	$(GO) run ./cmd/jelou-sim

kafka-up: ## start a real Apache Kafka broker (KRaft, jars from Maven Central) on 127.0.0.1:19092
	scripts/kafka.sh up

kafka-down: ## stop it
	scripts/kafka.sh down

test-kafka: ## the Kafka integration tests against the real broker (starts it when needed)
	scripts/kafka.sh up
	KAFKA_TEST_BROKERS=127.0.0.1:19092 $(GO) test -race -count=1 ./internal/kafkatest/... ./internal/publish/... ./internal/checkpoint/... ./internal/poller/... ./internal/service/...

ci: ## what CI runs
	bash .ci/run

clean:
	rm -rf $(BIN) .cache
