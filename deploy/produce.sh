#!/usr/bin/env bash
# Sends the lines of an NDJSON file to their source topics with the Kafka
# image's own console producer, so the compose demo needs no extra tooling.
#
# Usage: produce.sh ROUTES.tsv EVENTS.ndjson...   (BOOTSTRAP, default kafka:9092)
#
# ROUTES.tsv holds `TOPIC<TAB>TEXT` lines: each event goes to the first route
# whose TEXT it contains (an empty TEXT matches everything: the default). The
# file is data rather than code so tests/deploy.rs can check, line by line,
# that the samples land on the topic whose source classifies them.
set -euo pipefail

routes=${1:?usage: produce.sh ROUTES.tsv EVENTS.ndjson...}
shift
[ $# -gt 0 ] || { echo "usage: produce.sh ROUTES.tsv EVENTS.ndjson..." >&2; exit 2; }
events="$*"
bootstrap=${BOOTSTRAP:-kafka:9092}
producer=${KAFKA_CONSOLE_PRODUCER:-/opt/kafka/bin/kafka-console-producer.sh}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Blank lines are not events (the embedded demo skips them too).
cat "$@" | grep -v '^[[:space:]]*$' > "$work/rest" || true
topics=()
while IFS=$'\t' read -r topic text || [ -n "$topic" ]; do
    case $topic in '' | '#'*) continue ;; esac
    [ -e "$work/to.$topic" ] || topics+=("$topic")
    grep -F -- "$text" "$work/rest" >> "$work/to.$topic" || true
    grep -v -F -- "$text" "$work/rest" > "$work/next" || true
    mv "$work/next" "$work/rest"
done < "$routes"

if [ -s "$work/rest" ]; then
    echo "error: $(wc -l < "$work/rest") line(s) of $events match no route in $routes" >&2
    exit 1
fi

for topic in "${topics[@]}"; do
    n=$(wc -l < "$work/to.$topic")
    [ "$n" -gt 0 ] || continue
    "$producer" --bootstrap-server "$bootstrap" --topic "$topic" \
        --producer-property acks=all < "$work/to.$topic"
    echo "produced $n event(s) to $topic"
done
