#!/bin/sh
# Create (or bring up to spec) every visitdesk topic and its dead-letter topic.
# Runs inside the apache/kafka image: the Kubernetes Job mounts it from a ConfigMap and
# docker-compose.yml mounts this same file, so both set topics up the same way.
# Safe to re-run: a topic gets more partitions when asked for (never fewer) and its configs.
# Each Kafka tool call starts a JVM, so the state is read once and only differences are acted on.
#
# Environment:
#   KAFKA_BOOTSTRAP     broker list, e.g. kafka:9092 (required)
#   TOPIC_PARTITIONS    partitions per topic: the most replicas of one service that can share it
#   TOPIC_REPLICATION   replication factor (3 in production)
#   TOPIC_MIN_ISR       min.insync.replicas (2 in production: acks=all survives one broker down)
#   TOPIC_PREFIX        prepended to every name (the services' VISITDESK_TOPIC_PREFIX)
#   DLQ_RETENTION_MS    dead letters wait longer for a person to look at them (default 30 days)
#   KAFKA_BIN           folder of kafka-topics.sh and kafka-configs.sh (default /opt/kafka/bin)
set -eu

: "${KAFKA_BOOTSTRAP:?set KAFKA_BOOTSTRAP}"
PARTITIONS=${TOPIC_PARTITIONS:-3}
REPLICATION=${TOPIC_REPLICATION:-1}
MIN_ISR=${TOPIC_MIN_ISR:-1}
PREFIX=${TOPIC_PREFIX:-}
DLQ_RETENTION_MS=${DLQ_RETENTION_MS:-2592000000}
BIN=${KAFKA_BIN:-/opt/kafka/bin}
PATTERN="$(echo "$PREFIX" | sed 's/[.]/\\./g')(visits|capacity|protocol|notifications)\.v1(\.dlq)?"

topics() { "$BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" "$@"; }

# One line per existing topic: "name partition_count configs".
current_state() {
    described=$(topics --describe --if-exists --topic "$PATTERN")
    echo "$described" | awk -F'\t' '/^Topic: / {
        name = $1; sub(/^Topic: /, "", name)
        count = ""; configs = ""
        for (i = 2; i <= NF; i++) {
            if ($i ~ /^PartitionCount: /) { count = $i; sub(/^PartitionCount: /, "", count) }
            if ($i ~ /^Configs: /) { configs = $i; sub(/^Configs: ?/, "", configs) }
        }
        print name, count, "," configs ","
    }'
}

ensure_topic() {
    name=$1
    configs=$2
    line=$(echo "$STATE" | awk -v n="$name" '$1 == n')
    if [ -z "$line" ]; then
        # Config values hold no spaces, so splitting the unquoted list into arguments is safe.
        # shellcheck disable=SC2046
        topics --create --if-not-exists --topic "$name" --partitions "$PARTITIONS" \
            --replication-factor "$REPLICATION" $(echo "$configs" | tr ',' '\n' | sed 's/^/--config /') >/dev/null
        echo "created $name"
        return
    fi
    count=$(echo "$line" | awk '{print $2}')
    if [ "$count" -lt "$PARTITIONS" ]; then
        # Keys move to other partitions when the count grows: do this before traffic, not during.
        topics --alter --topic "$name" --partitions "$PARTITIONS" >/dev/null
        echo "grew $name from $count to $PARTITIONS partitions"
    fi
    for config in $(echo "$configs" | tr ',' ' '); do
        case $(echo "$line" | awk '{print $3}') in
            *",$config,"*) ;;
            *)
                "$BIN/kafka-configs.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --alter --entity-type topics \
                    --entity-name "$name" --add-config "$configs" >/dev/null
                echo "set $configs on $name"
                return
                ;;
        esac
    done
}

STATE=$(current_state)
for topic in visits.v1 capacity.v1 protocol.v1 notifications.v1; do
    ensure_topic "$PREFIX$topic" "min.insync.replicas=$MIN_ISR"
    ensure_topic "$PREFIX$topic.dlq" "min.insync.replicas=$MIN_ISR,retention.ms=$DLQ_RETENTION_MS"
done
current_state | sort | awk '{ gsub(/^,|,$/, "", $3); print "topic", $1 ":", $2, "partitions,", $3 }'
