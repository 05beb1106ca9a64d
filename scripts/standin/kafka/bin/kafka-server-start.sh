#!/usr/bin/env bash
# kafka-server-start.sh server.properties: the broker in the foreground, with
# the distribution's defaults for heap and logging (Apache Kafka stand-in
# image, scripts/images.sh).
set -o nounset -o errexit
[[ $# -ge 1 ]] || {
	echo "usage: $0 server.properties [--override property=value]..." >&2
	exit 1
}
: "${KAFKA_HEAP_OPTS:=-Xmx1G -Xms1G}"
: "${KAFKA_LOG4J_OPTS:=-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml}"
export KAFKA_HEAP_OPTS KAFKA_LOG4J_OPTS
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
