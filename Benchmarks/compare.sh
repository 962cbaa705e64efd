#!/usr/bin/env bash
# Times trailscan side by side with plain decompression on the same corpus.
#
#   Benchmarks/compare.sh                      # ~1 GB corpus in $CORPUS (generated once), 5 rounds
#   CORPUS=/data/logs ROUNDS=3 Benchmarks/compare.sh
#
# Prints, for each command, the median wall time and CPU time over the rounds (warm page cache), the
# decoded JSON throughput and the ratio to trailscan; and trailscan's peak RSS. Nothing here is a test:
# no threshold. Where the host reclaims idle page cache (this one runs DAMON pageout), a corpus under
# /dev/shm stays in memory between rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${CORPUS:-/tmp/trailscan-corpus}
ROUNDS=${ROUNDS:-5}
CORES=$(nproc)

if [ ! -d "$CORPUS" ]; then
    echo "generating the corpus in $CORPUS ..." >&2
    python3 scripts/generate_logs.py --out "$CORPUS" --regions 17 --files-per-day 24 \
        --records-per-file 200 --target-bytes 1000000000
fi
swift build -c release >&2
TRAILSCAN=.build/release/trailscan

[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 64; }
LIST=$(mktemp) STATS=$(mktemp)
trap 'rm -f "$LIST" "$STATS"' EXIT
find "$CORPUS" -name '*.json.gz' -not -path '*CloudTrail-Digest*' -print0 > "$LIST"
OBJECTS=$(tr -cd '\0' < "$LIST" | wc -c)
GZIP_BYTES=$(xargs -0 cat < "$LIST" | wc -c)   # also warms the page cache
JSON_BYTES=$(xargs -0 zcat < "$LIST" | wc -c)

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# measure COMMAND...: the median wall time and the median CPU time (user + system, the command's
# processes together) of $ROUNDS runs. CPU time shows what a tool costs when wall time is noisy, and
# how far a tool on N processes is from using N cores.
measure() {
    local walls=() cpus=() wall user system
    for _ in $(seq "$ROUNDS"); do
        /usr/bin/time -o "$STATS" -f '%e %U %S' "$@" > /dev/null 2>&1 || true   # trailscan exits 1 on alerts
        read -r wall user system < <(tail -1 "$STATS")
        walls+=("$wall")
        cpus+=("$(echo "$user + $system" | bc -l)")
    done
    echo "$(median "${walls[@]}") $(median "${cpus[@]}")"
}

declare -a NAMES SECONDS_ CPUS
run() {
    local wall cpu
    NAMES+=("$1")
    shift
    read -r wall cpu < <(measure "$@")
    SECONDS_+=("$wall")
    CPUS+=("$cpu")
}

run "trailscan (--jobs $CORES)" "$TRAILSCAN" scan -q --format jsonl "$CORPUS"
run "trailscan (--jobs 1)" "$TRAILSCAN" scan -q --format jsonl --jobs 1 "$CORPUS"
run "zcat (1 process)" sh -c "xargs -0 zcat < '$LIST'"
run "zcat ($CORES processes)" sh -c "xargs -0 -n 64 -P $CORES zcat < '$LIST'"
if command -v libdeflate-gunzip > /dev/null; then  # apt-get install libdeflate-tools
    run "libdeflate-gunzip ($CORES proc.)" sh -c "xargs -0 -n 64 -P $CORES libdeflate-gunzip -c < '$LIST'"
fi

# The same filter for every tool (Benchmarks/filter.py): console sign-ins and the IAM calls the pack names.
FILTER_RULES=$(mktemp)
python3 Benchmarks/filter.py > "$FILTER_RULES"
JQ_PROGRAM=$(python3 Benchmarks/filter.py jq)
export JQ_PROGRAM
run "trailscan, same filter" "$TRAILSCAN" scan -q --format jsonl --no-builtin --rules "$FILTER_RULES" "$CORPUS"
if command -v jq > /dev/null; then
    run "zcat \\| jq (1 process)" sh -c "xargs -0 zcat < '$LIST' | jq -r \"\$JQ_PROGRAM\""
    run "zcat \\| jq ($CORES processes)" sh -c "xargs -0 -n 64 -P $CORES sh -c 'zcat \"\$@\" | jq -r \"\$JQ_PROGRAM\"' _ < '$LIST'"
fi
run "Python json ($CORES processes)" sh -c "python3 Benchmarks/scan_python.py json $CORES < '$LIST'"
if python3 -c "import orjson" 2> /dev/null; then
    run "Python orjson ($CORES proc.)" sh -c "python3 Benchmarks/scan_python.py orjson $CORES < '$LIST'"
fi
if command -v rg > /dev/null; then  # a search, not a filter: finds the objects that name the events
    RG_PATTERN=$(python3 Benchmarks/filter.py rg)
    run "rg -z ($CORES threads)" rg -z -c -j "$CORES" "$RG_PATTERN" "$CORPUS"
fi
if python3 -c "import duckdb" 2> /dev/null; then  # pip install duckdb
    run "DuckDB read_json ($CORES threads)" python3 Benchmarks/scan_duckdb.py "$CORPUS"
fi

# Did every tool find the same records? (eventIDs, sorted and unique)
ids() { { "$@" 2> /dev/null || true; } | sort -u; }  # exit codes do not matter here (alerts exit 1)
EXPECTED=$(ids sh -c "'$TRAILSCAN' scan -q --format jsonl --no-builtin --rules '$FILTER_RULES' '$CORPUS' | python3 -c 'import json,sys; [print(json.loads(l)[\"eventID\"]) for l in sys.stdin]'" | md5sum)
COUNT=$(ids sh -c "'$TRAILSCAN' scan -q --format jsonl --no-builtin --rules '$FILTER_RULES' '$CORPUS'" | wc -l)
CHECKS=""
check() {
    local name=$1; shift
    if [ "$(ids "$@" | md5sum)" = "$EXPECTED" ]; then CHECKS+="  $name: same $COUNT records"$'\n'; else CHECKS+="  $name: DIFFERENT records"$'\n'; fi
}
command -v jq > /dev/null && check "zcat | jq" sh -c "xargs -0 zcat < '$LIST' | jq -r \"\$JQ_PROGRAM\""
check "Python json" sh -c "python3 Benchmarks/scan_python.py json $CORES < '$LIST'"
python3 -c "import orjson" 2> /dev/null && check "Python orjson" sh -c "python3 Benchmarks/scan_python.py orjson $CORES < '$LIST'"
python3 -c "import duckdb" 2> /dev/null && check "DuckDB" python3 Benchmarks/scan_duckdb.py "$CORPUS"
rm -f "$FILTER_RULES"

RSS_KB=$( { /usr/bin/time -f '%M' "$TRAILSCAN" scan -q "$CORPUS" > /dev/null || true; } 2>&1 | tail -1)

echo
echo "corpus: $CORPUS, $OBJECTS objects, $GZIP_BYTES bytes gzip, $JSON_BYTES bytes JSON"
echo "machine: $CORES cores, $(uname -sr); median of $ROUNDS rounds, warm cache"
echo
printf '| %-30s | %9s | %9s | %9s | %14s |\n' "command" "wall (s)" "CPU (s)" "MB/s" "vs trailscan"
printf '|%s|%s|%s|%s|%s|\n' "--------------------------------" "----------:" "----------:" "----------:" "---------------:"
BASE=${SECONDS_[0]}
for i in "${!NAMES[@]}"; do
    s=${SECONDS_[$i]}
    printf '| %-30s | %9.2f | %9.2f | %9.0f | %13.2fx |\n' "${NAMES[$i]}" "$s" "${CPUS[$i]}" \
        "$(echo "$JSON_BYTES / 1000000 / $s" | bc -l)" "$(echo "$s / $BASE" | bc -l)"
done
echo
echo "trailscan peak RSS: $((RSS_KB / 1024)) MiB"
echo "records found with the same filter:"
printf '%s' "$CHECKS"
