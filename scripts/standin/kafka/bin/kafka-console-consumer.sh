#!/usr/bin/env bash
# Print a topic's records (Apache Kafka stand-in image, scripts/images.sh).
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
