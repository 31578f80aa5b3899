#!/usr/bin/env bash
# The Kafka end-to-end series of benches/README.md ("Kafka end to end"):
# ceiling vs Tocsin on the mock cluster and on tansu, then latency at ~50% of
# the measured maximum. Each run's output (with `uptime` before and after) goes
# to $OUT/<name>.out, its progress lines to $OUT/<name>.err.
#
#   benches/kafka_load.sh                 # everything (~10 minutes)
#   SERIES="mock" benches/kafka_load.sh   # mock | tansu | latency | tansu-latency, space-separated
#
# tansu: `tansu` on PATH or in ~/.cargo/bin (`cargo install tansu
# --no-default-features --features dynostore`); its series are skipped without it.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-/tmp/tocsin-load-results}
SERIES=${SERIES:-"mock tansu latency tansu-latency"}
EVENTS=${EVENTS:-200000}
PORT=${PORT:-19192}
mkdir -p "$OUT"

cargo build --release --bin tocsin-load
BIN=${CARGO_TARGET_DIR:-target}/release/tocsin-load
TANSU=$(command -v tansu || true)
[ -z "$TANSU" ] && [ -x "$HOME/.cargo/bin/tansu" ] && TANSU=$HOME/.cargo/bin/tansu

run() {
    local name=$1
    shift
    {
        echo "### $name"
        echo "\$ tocsin-load $*"
        date -u +%FT%TZ
        echo "uptime before: $(uptime)"
    } >"$OUT/$name.out"
    local rc=0
    "$BIN" "$@" >>"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
    echo "exit $rc" >>"$OUT/$name.out"
    echo "uptime after: $(uptime)" >>"$OUT/$name.out"
    grep -E '^(ratio|match alerts|correlation alerts|target)' "$OUT/$name.out" | sed "s/^/$name: /" || true
}

TANSU_PID=
start_tansu() {
    "$TANSU" broker --listener-url "tcp://127.0.0.1:$PORT" --advertised-listener-url "tcp://127.0.0.1:$PORT" \
        --storage-engine memory://tansu/ >"$OUT/tansu-broker.log" 2>&1 &
    TANSU_PID=$!
    sleep 1
}
stop_tansu() {
    if [ -n "$TANSU_PID" ]; then
        kill "$TANSU_PID" 2>/dev/null || true
        wait "$TANSU_PID" 2>/dev/null || true
        TANSU_PID=
    fi
}
trap stop_tansu EXIT

# A fresh broker per run (tansu's memory storage keeps every earlier run's topics).
tansu_run() {
    if [ -z "$TANSU" ]; then
        echo "$1: skipped (no tansu binary)"
        return
    fi
    start_tansu
    run "$@" --brokers "127.0.0.1:$PORT"
    stop_tansu
}

for s in $SERIES; do
    case $s in
    mock)
        run mock-default --mode both --events "$EVENTS" --repeat 5
        run mock-backoff10 --mode both --events "$EVENTS" --repeat 5 --property fetch.queue.backoff.ms=10
        run mock-attack1-backoff10 --mode both --events "$EVENTS" --repeat 5 --attack-rate 1.0 \
            --property fetch.queue.backoff.ms=10
        run mock-attack1-default --mode both --events "$EVENTS" --repeat 5 --attack-rate 1.0
        ;;
    tansu)
        tansu_run tansu-default --mode both --events "$EVENTS" --repeat 2
        tansu_run tansu-backoff10 --mode both --events "$EVENTS" --repeat 2 --property fetch.queue.backoff.ms=10
        ;;
    latency)
        # ~50% of the best Tocsin rate of the mock series (adjust to what it measured).
        run lat-mock-default --mode latency --rate 55000 --seconds 30 --partitions 44
        run lat-mock-wait10 --mode latency --rate 55000 --seconds 30 --partitions 44 --property fetch.wait.max.ms=10
        run lat-mock-attack1-wait10 --mode latency --rate 50000 --seconds 30 --partitions 44 --attack-rate 1.0 \
            --property fetch.wait.max.ms=10
        run lat-mock-attack1-wait10-ooo1s --mode latency --rate 50000 --seconds 30 --partitions 44 \
            --attack-rate 1.0 --property fetch.wait.max.ms=10 --max-out-of-orderness 1s
        ;;
    tansu-latency)
        tansu_run lat-tansu-default --mode latency --rate 12000 --seconds 30
        tansu_run lat-tansu-attack1-wait10 --mode latency --rate 12000 --seconds 30 --attack-rate 1.0 \
            --property fetch.wait.max.ms=10
        tansu_run lat-tansu-attack1-wait10-ooo1s --mode latency --rate 12000 --seconds 30 --attack-rate 1.0 \
            --property fetch.wait.max.ms=10 --max-out-of-orderness 1s
        ;;
    *)
        echo "unknown series $s" >&2
        exit 2
        ;;
    esac
done
echo "results in $OUT"
