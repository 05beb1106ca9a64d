#!/usr/bin/env bash
# Create, list, describe and delete topics (Apache Kafka stand-in image, scripts/images.sh).
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
