#!/usr/bin/env bash
# End-to-end comparison of `tocsin run` with rsigma (`rsigma engine eval`):
# same rules, same generated events, one core each, alerts to a file.
#
#   benches/compare_rsigma.sh            # 200k events, seed 1
#   EVENTS=50000 REPEAT=5 benches/compare_rsigma.sh
#
# Environment: EVENTS (200000), SEED (1), REPEAT (3, best run kept),
# ATTACK_RATE (tocsin-gen's default, 0.004; 1.0 makes every event match),
# RSIGMA (~/.cargo/bin/rsigma), WORK (/tmp/tocsin-vs-rsigma),
# RULES_SRC (../shared/sigma/rules/rules/windows), CPU (0); CARGO_TARGET_DIR
# is honoured (the binaries are built and run from there).
#
# Rule set: the SigmaHQ Windows rules whose logsource one of the sources of
# benches/windows-flat.toml provides (Tocsin's `applies`: every key the rule
# sets equals the source's), symlinked into $WORK/rules. Tocsin evaluates a
# rule only on events of its logsource; rsigma evaluates every rule on every
# event, so it runs with its builtin `sysmon` pipeline, which adds the Sysmon
# EventID of each category (process_creation → EventID 1, …) to the rules,
# the usual way to apply Sigma's logsource to Sysmon events. Remaining count
# differences are listed per rule at the end.
#
# Throughput: wall time of the full run minus the wall time of a 1-event run
# (start-up: loading and compiling the rules), i.e. the steady-state rate;
# the end-to-end rate including start-up is printed too.
set -euo pipefail

cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
SEED=${SEED:-1}
ATTACK_RATE=${ATTACK_RATE:-}
REPEAT=${REPEAT:-3}
RSIGMA=${RSIGMA:-$HOME/.cargo/bin/rsigma}
WORK=${WORK:-/tmp/tocsin-vs-rsigma}
RULES_SRC=${RULES_SRC:-../shared/sigma/rules/rules/windows}
CPU=${CPU:-0}
CONFIG=benches/windows-flat.toml

[ -x "$RSIGMA" ] || { echo "rsigma not found at $RSIGMA (cargo install --locked rsigma@0.23.0)" >&2; exit 1; }
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c "$CPU")

cargo build --release --quiet --bin tocsin --bin tocsin-gen
BIN=${CARGO_TARGET_DIR:-target}/release
TOCSIN=$BIN/tocsin

case "$WORK" in /tmp/?*) ;; *) echo "WORK must be a directory under /tmp (it is emptied): $WORK" >&2; exit 1 ;; esac
rm -rf "$WORK"
mkdir -p "$WORK/rules"
"$BIN/tocsin-gen" --events "$EVENTS" --seed "$SEED" ${ATTACK_RATE:+--attack-rate "$ATTACK_RATE"} \
    --out "$WORK/events.ndjson"
head -n 1 "$WORK/events.ndjson" >"$WORK/one.ndjson"

# Rules whose logsource a configured source provides, and an id → path/title index.
python3 - "$RULES_SRC" "$WORK" "$CONFIG" <<'PY'
import json, os, sys, tomllib, yaml
src, work, config = sys.argv[1:]
with open(config, "rb") as f:
    sources = [{k: s.get(k) for k in ("product", "category", "service")} for s in tomllib.load(f)["sources"]]
def applies(rule, source):
    return all(rule.get(k) is None or (source[k] is not None and str(rule[k]).lower() == source[k].lower())
               for k in ("product", "category", "service"))
index, n = {}, 0
for root, dirs, files in os.walk(src):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for name in sorted(files):
        if not name.endswith((".yml", ".yaml")):
            continue
        path = os.path.join(root, name)
        try:
            doc = next(d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if isinstance(d, dict))
        except Exception:
            continue
        ls = doc.get("logsource") or {}
        if not any(applies(ls, s) for s in sources):
            continue
        rel = os.path.relpath(path, src)
        os.symlink(os.path.abspath(path), os.path.join(work, "rules", rel.replace(os.sep, "__")))
        index[str(doc.get("id") or doc.get("title"))] = {"path": rel, "title": doc.get("title"), "logsource": ls}
        n += 1
json.dump(index, open(os.path.join(work, "rules.json"), "w"))
print(f"{n} rules selected from {src}")
PY
NRULES=$(find "$WORK/rules" -name '*.yml' | wc -l)

# best_ms VAR cmd…: runs cmd REPEAT times, keeps the lowest wall time (ms) in VAR.
best_ms() {
    local var=$1; shift
    local best=0 t0 t1 ms
    for _ in $(seq "$REPEAT"); do
        t0=$(date +%s%N)
        "$@"
        t1=$(date +%s%N)
        ms=$(((t1 - t0) / 1000000))
        if [ "$best" -eq 0 ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    printf -v "$var" '%s' "$best"
}

tocsin_on() {
    "${PIN[@]}" "$TOCSIN" run --rules "$WORK/rules" --input "$1" --config "$CONFIG" --lenient \
        --output "$WORK/tocsin.ndjson" --dead-letter "$WORK/tocsin-dl.ndjson" \
        --summary-json "$WORK/tocsin-summary.json" 2>"$WORK/tocsin.log"
}
rsigma_on() {
    "${PIN[@]}" "$RSIGMA" engine eval --rules "$WORK/rules" --pipeline sysmon --event "@$1" \
        --output-format ndjson >"$WORK/rsigma.ndjson" 2>"$WORK/rsigma.log"
}

echo "events: $EVENTS ($(stat -c %s "$WORK/events.ndjson") bytes), rules: $NRULES, pinned: ${PIN[*]:-no}, best of $REPEAT"
best_ms T_START tocsin_on "$WORK/one.ndjson"
best_ms T_FULL tocsin_on "$WORK/events.ndjson"
best_ms R_START rsigma_on "$WORK/one.ndjson"
best_ms R_FULL rsigma_on "$WORK/events.ndjson"
/usr/bin/time -o "$WORK/tocsin.rss" -f %M "${PIN[@]}" "$TOCSIN" run --rules "$WORK/rules" --input "$WORK/events.ndjson" \
    --config "$CONFIG" --lenient --output /dev/null --dead-letter /dev/null 2>/dev/null
/usr/bin/time -o "$WORK/rsigma.rss" -f %M "${PIN[@]}" "$RSIGMA" engine eval --rules "$WORK/rules" --pipeline sysmon \
    --event "@$WORK/events.ndjson" >/dev/null 2>/dev/null
TOCSIN_RSS=$(tail -n 1 "$WORK/tocsin.rss")
RSIGMA_RSS=$(tail -n 1 "$WORK/rsigma.rss")
# Untimed runs for the comparison; rsigma includes the event so that the
# matched (rule, event) pairs can be compared, not only the counts.
tocsin_on "$WORK/events.ndjson"
"$RSIGMA" engine eval --rules "$WORK/rules" --pipeline sysmon --event "@$WORK/events.ndjson" \
    --output-format ndjson --include-event >"$WORK/rsigma.ndjson" 2>"$WORK/rsigma.log"

python3 - "$WORK" "$EVENTS" "$T_START" "$T_FULL" "$R_START" "$R_FULL" "$TOCSIN_RSS" "$RSIGMA_RSS" <<'PY'
import collections, json, sys
work, n = sys.argv[1], int(sys.argv[2])
t_start, t_full, r_start, r_full = (int(x) for x in sys.argv[3:7])
rss = sys.argv[7:9]
index = json.load(open(f"{work}/rules.json"))

def rate(ms):
    return n / (ms / 1000) if ms > 0 else float("inf")

t_count, r_count = collections.Counter(), collections.Counter()
t_events, t_example = set(), {}
for line in open(f"{work}/tocsin.ndjson"):
    a = json.loads(line)
    rid = a["rule"]["id"]
    t_count[rid] += 1
    ev = a["evidence"][0]["event"]
    t_events.add(ev.get("EventRecordID"))
    t_example.setdefault(rid, ev)
t_pairs, r_pairs = set(), set()
for line in open(f"{work}/tocsin.ndjson"):
    a = json.loads(line)
    t_pairs.add((a["rule"]["id"], a["evidence"][0]["event"].get("EventRecordID")))
r_example = {}
for line in open(f"{work}/rsigma.ndjson"):
    a = json.loads(line)
    rid = a.get("rule_id") or a.get("rule_title")
    r_count[rid] += 1
    ev = a.get("event") or {}
    r_pairs.add((rid, ev.get("EventRecordID")))
    r_example.setdefault(rid, ev)

t_steady, r_steady = rate(t_full - t_start), rate(r_full - r_start)
print()
print(f"{'':24}{'tocsin':>14}{'rsigma':>14}{'ratio':>9}")
print(f"{'start-up (1 event) ms':24}{t_start:>14}{r_start:>14}")
print(f"{'full run ms':24}{t_full:>14}{r_full:>14}")
print(f"{'events/s end to end':24}{rate(t_full):>14,.0f}{rate(r_full):>14,.0f}{rate(t_full) / rate(r_full):>9.2f}")
print(f"{'events/s steady state':24}{t_steady:>14,.0f}{r_steady:>14,.0f}{t_steady / r_steady:>9.2f}")
print(f"{'max RSS KiB':24}{rss[0]:>14}{rss[1]:>14}")
print(f"{'matches (alerts)':24}{sum(t_count.values()):>14}{sum(r_count.values()):>14}")
print(f"{'rules that fired':24}{len(t_count):>14}{len(r_count):>14}")
print(f"tocsin events with alerts: {len(t_events)} of {n} ({100 * len(t_events) / n:.3f}%)")

print(f"(rule, event) pairs: {len(t_pairs & r_pairs)} in both, {len(t_pairs - r_pairs)} only tocsin, {len(r_pairs - t_pairs)} only rsigma")

diff = sorted(set(t_count) | set(r_count), key=lambda r: -abs(t_count[r] - r_count[r]))
diff = [r for r in diff if t_count[r] != r_count[r]]
print(f"\nrules whose counts differ: {len(diff)}")
for rid in diff:
    meta = index.get(rid, {})
    print(f"  tocsin {t_count[rid]:>7}  rsigma {r_count[rid]:>7}  {meta.get('path', rid)}  ({meta.get('logsource')})")
    ev = t_example.get(rid) or r_example.get(rid)
    if ev:
        keys = ("EventID", "Image", "CommandLine", "TargetFilename", "TargetObject", "LogonType", "TargetUserName")
        print("      e.g.", json.dumps({k: ev[k] for k in keys if k in ev})[:300])
PY
echo
echo "outputs in $WORK (tocsin.ndjson, rsigma.ndjson, tocsin.log, rsigma.log)"
