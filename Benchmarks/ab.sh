#!/usr/bin/env bash
# Compares two builds of trailscan on a noisy host: runs them alternately and keeps each one's minimum
# CPU time (user + system), which varies far less than wall time when the machine is shared.
#
#   cp .build/release/trailscan /tmp/trailscan-before   # then change the code and build again
#   Benchmarks/ab.sh /tmp/trailscan-before .build/release/trailscan scan -q --jobs 1 /tmp/corpus1g/AWSLogs/111122223333
#   N=15 Benchmarks/ab.sh A B ARGS...                    # more rounds (default 7)
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,7p' "$0" >&2; exit 64; }
N=${N:-7}
A=$1 B=$2
shift 2
STATS=$(mktemp)
trap 'rm -f "$STATS"' EXIT

cpu_seconds() {  # cpu_seconds BINARY ARGS...: user + system seconds of one run (exit 1 only means alerts)
    /usr/bin/time -o "$STATS" -f '%U %S' "$@" > /dev/null 2>&1 || [ $? -eq 1 ]
    tail -1 "$STATS" | awk '{ print $1 + $2 }'
}

best_a=inf best_b=inf
for _ in $(seq "$N"); do
    best_a=$(printf '%s\n%s\n' "$best_a" "$(cpu_seconds "$A" "$@")" | sort -g | head -1)
    best_b=$(printf '%s\n%s\n' "$best_b" "$(cpu_seconds "$B" "$@")" | sort -g | head -1)
done
echo "A $A: $best_a s   B $B: $best_b s   (minimum CPU time of $N alternating runs)"
