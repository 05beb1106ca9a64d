# Makefile for jelou-producer. Every target is a thin wrapper: the commands it
# runs work as they are.
GO       ?= go
BIN      ?= bin
# VERSION is the release, one line in the VERSION file: the binaries (-X),
# the image (build argument and OCI labels) and the Helm chart (appVersion)
# carry it; internal/deploytest checks that they agree.
VERSION  ?= $(shell cat VERSION)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
CREATED  ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
IMAGE    ?= jelou-producer
LDFLAGS  := -s -w -X github.com/jelou-producer/jelou-producer/internal/buildinfo.Version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: all build version image vulncheck sbom test race lint fmt fuzz asyncapi bench bench-short demo sim kafka-up kafka-down test-kafka e2e ci clean

all: lint test build

build: ## build the producer and the simulator into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/jelou-producer ./cmd/jelou-producer
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/jelou-sim ./cmd/jelou-sim

version: ## print the release version (the VERSION file)
	@echo $(VERSION)

image: ## the producer image, tagged and labelled with VERSION, REVISION and CREATED
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg CREATED=$(CREATED) \
	  -t $(IMAGE):$(VERSION) .

vulncheck: ## govulncheck over the module, its database built from golang.org/x/vulndb
	scripts/vulncheck.sh

sbom: ## a CycloneDX SBOM of the producer binary into dist/
	scripts/sbom.sh

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

asyncapi: ## validate schemas/asyncapi.json with the AsyncAPI parser (needs node and npm)
	scripts/asyncapi-validate.sh

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
