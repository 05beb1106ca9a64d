#!/usr/bin/env bash
# Format or inspect KRaft storage (Apache Kafka stand-in image, scripts/images.sh).
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
