#!/usr/bin/env bash
# Peak RSS of trailscan on the inputs that could make a scanner's memory grow: one object of about
# 1 GB of JSON, 100,000 small objects, and a million failed sign-ins for the windowed rules to count.
#
#   Benchmarks/memory.sh                       # inputs made once in $WORK from the corpus in $CORPUS
#   CORPUS=/tmp/corpus1g WORK=/tmp/trailscan-memory Benchmarks/memory.sh
#
# Prints wall time and peak RSS (GNU time's %M) for each. Nothing here is a test: no threshold.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${CORPUS:-/tmp/trailscan-corpus}
WORK=${WORK:-/tmp/trailscan-memory}
[ -d "$CORPUS" ] || { echo "no corpus in $CORPUS: run Benchmarks/compare.sh first, or set CORPUS" >&2; exit 64; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 64; }

if [ ! -f "$WORK/one-big-object.json.gz" ] || [ ! -d "$WORK/many" ] || [ ! -d "$WORK/failed-signins" ]; then
    echo "making the inputs in $WORK ..." >&2
    python3 Benchmarks/make_memory_inputs.py "$CORPUS" "$WORK"
fi
swift build -c release >&2
TRAILSCAN=.build/release/trailscan

STATS=$(mktemp)
trap 'rm -f "$STATS"' EXIT
measure() {  # measure LABEL PATH: wall seconds and peak RSS of one scan (exit 1 only means alerts)
    /usr/bin/time -o "$STATS" -f '%e %M' "$TRAILSCAN" scan -q "$2" > /dev/null || [ $? -eq 1 ]
    local seconds kib
    read -r seconds kib < <(tail -1 "$STATS")
    printf '| %-40s | %8s | %8d |\n' "$1" "$seconds" "$((kib / 1024))"
}

printf '| %-40s | %8s | %8s |\n' "input" "wall (s)" "RSS MiB"
printf '|%s|%s|%s|\n' "------------------------------------------" "---------:" "---------:"
measure "one object, $(du -hL "$WORK/one-big-object.json.gz" | cut -f1) of gzip" "$WORK/one-big-object.json.gz"
measure "$(find -L "$WORK/many" -name '*.json.gz' | wc -l) small objects" "$WORK/many"
measure "1,000,000 failed sign-ins, 100,000 IPs" "$WORK/failed-signins"
