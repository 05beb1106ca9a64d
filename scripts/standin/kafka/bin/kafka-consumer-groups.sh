#!/usr/bin/env bash
# List and describe consumer groups (Apache Kafka stand-in image, scripts/images.sh).
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
