#!/usr/bin/env bash
# The API versions each broker supports (Apache Kafka stand-in image, scripts/images.sh).
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
