#!/usr/bin/env bash
# kafka-run-class.sh CLASS [ARGS]: run a class of the Kafka jars with the
# variables the Apache Kafka distribution's script reads (KAFKA_HEAP_OPTS,
# KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_GC_LOG_OPTS, KAFKA_JMX_OPTS,
# KAFKA_LOG4J_OPTS, KAFKA_OPTS). Part of the stand-in image (scripts/images.sh).
set -o nounset -o errexit
base=/opt/kafka
: "${KAFKA_HEAP_OPTS:=-Xmx256M}"
: "${KAFKA_JVM_PERFORMANCE_OPTS:=-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
log4j=$base/config/tools-log4j2.yaml
[[ -f $log4j ]] || log4j=/etc/kafka/docker/tools-log4j2.yaml
: "${KAFKA_LOG4J_OPTS:=-Dlog4j2.configurationFile=$log4j}"
# shellcheck disable=SC2086 # the *_OPTS variables are lists of words.
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS ${KAFKA_GC_LOG_OPTS-} ${KAFKA_JMX_OPTS-} \
	$KAFKA_LOG4J_OPTS ${KAFKA_OPTS-} -cp "$base/libs/*" "$@"
