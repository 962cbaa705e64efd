#!/usr/bin/env bash
# S3 throughput: trailscan against boto3 with 10 download threads, through a local S3 server with
# added round-trip latency.
#
#   Benchmarks/s3_throughput.sh                       # objects of one account of $CORPUS, 20 ms RTT
#   OBJECTS=/tmp/trailscan-corpus/AWSLogs/111122223333 RTT_MS=40 ROUNDS=3 FETCHES="16 64 128" Benchmarks/s3_throughput.sh
#
# Starts `juicefs gateway` (the S3 server of the tests: it checks SigV4 signatures; its volume is the
# bucket `trail`) on 127.0.0.1,
# uploads the objects under $OBJECTS (keys as under the corpus folder), starts
# Benchmarks/latency_proxy.py in front of it with RTT_MS/2 each way, and times, median of $ROUNDS:
# trailscan scanning the whole bucket (list, GET, decode, all rules) at several --max-fetches, and
# Benchmarks/s3_download_boto3.py (list + download only, 10 threads). Stops both servers by pid.
# Nothing here is a test: no threshold.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${CORPUS:-/tmp/trailscan-corpus}
OBJECTS=${OBJECTS:-$CORPUS/AWSLogs/111122223333}
RTT_MS=${RTT_MS:-20}
ROUNDS=${ROUNDS:-3}
FETCHES=${FETCHES:-"16 64"}
PORT=${PORT:-9310}
PROXY_PORT=$((PORT + 1))

[ -d "$OBJECTS" ] || { echo "no objects in $OBJECTS (run Benchmarks/compare.sh once, or set OBJECTS)" >&2; exit 64; }
source Benchmarks/s3_gateway.sh

BASE=$(dirname "$(dirname "$OBJECTS")")   # keys keep AWSLogs/<account>/...
python3 - "$PORT" "$BASE" "$OBJECTS" << 'PY'
import os, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config
port, base, objects = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  config=Config(max_pool_connections=16, s3={"addressing_style": "path"}))
files = [os.path.join(d, f) for d, _, fs in os.walk(objects) for f in fs if f.endswith(".json.gz") and "CloudTrail-Digest" not in d]
def put(path):
    with open(path, "rb") as body:
        s3.put_object(Bucket="trail", Key=os.path.relpath(path, base), Body=body)
with ThreadPoolExecutor(16) as pool:
    list(pool.map(put, files))
PY
COUNT=$(find "$OBJECTS" -name "*.json.gz" -not -path "*CloudTrail-Digest*" | wc -l)
BYTES=$(find "$OBJECTS" -name "*.json.gz" -not -path "*CloudTrail-Digest*" -print0 | xargs -0 cat | wc -c)

python3 Benchmarks/latency_proxy.py "$PROXY_PORT" "$PORT" "$(echo "$RTT_MS / 2" | bc -l)" &
PIDS+=($!)
GATEWAY_PID=${PIDS[0]} PROXY_PID=${PIDS[1]}
sleep 0.5
ENDPOINT=http://127.0.0.1:$PROXY_PORT

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
seconds() {  # seconds COMMAND...: median wall time of $ROUNDS runs
    for _ in $(seq "$ROUNDS"); do
        local start end
        start=$(date +%s.%N)
        "$@" > /dev/null 2>&1 || true   # alerts exit 1
        end=$(date +%s.%N)
        echo "$end - $start" | bc -l
    done | median
}

declare -a NAMES TIMES
for fetches in $FETCHES; do
    NAMES+=("trailscan --max-fetches $fetches")
    TIMES+=("$(seconds "$TRAILSCAN" scan -q --format jsonl --endpoint-url "$ENDPOINT" --max-fetches "$fetches" s3://trail/)")
done
NAMES+=("boto3, 10 threads (download only)")
TIMES+=("$(seconds python3 Benchmarks/s3_download_boto3.py "$ENDPOINT" trail 10)")

# The same objects were read by every command (and trailscan's summary says how it listed them).
"$TRAILSCAN" scan -q --format jsonl --endpoint-url "$ENDPOINT" --summary-out "$WORK/summary.json" s3://trail/ > /dev/null || true
READ=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); o=s['objects']; print(o['scanned'], 'objects scanned,', o['failed'], 'failed,', o['listRequests'], 'list requests')" "$WORK/summary.json" 2> /dev/null || echo "?")

# Where the CPU goes: one more run of each client, with its own CPU time (GNU time) and the server's and
# the proxy's over the same run (/proc/PID/stat utime + stime). Both servers share this machine's cores
# with the client, so their CPU time bounds how fast any client can go here.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)
cpu_row() {  # cpu_row NAME COMMAND...
    local name=$1 gateway proxy
    shift
    gateway=$(ticks "$GATEWAY_PID") proxy=$(ticks "$PROXY_PID")
    /usr/bin/time -o "$WORK/time" -f '%e %U %S' "$@" > /dev/null 2>&1 || true
    read -r wall user system < <(tail -1 "$WORK/time")
    gateway=$(echo "($(ticks "$GATEWAY_PID") - $gateway) / $TICKS" | bc -l)
    proxy=$(echo "($(ticks "$PROXY_PID") - $proxy) / $TICKS" | bc -l)
    CPU_ROWS+=("$(printf '| %-36s | %8.2f | %10.2f | %15.2f | %10.2f | %9.2f |' "$name" "$wall" \
        "$(echo "$user + $system" | bc -l)" "$(echo "($user + $system) * 1000 / $COUNT" | bc -l)" "$gateway" "$proxy")")
}
declare -a CPU_ROWS
cpu_row "trailscan (default --max-fetches)" "$TRAILSCAN" scan -q --format jsonl --endpoint-url "$ENDPOINT" s3://trail/
cpu_row "boto3, 10 threads (download only)" python3 Benchmarks/s3_download_boto3.py "$ENDPOINT" trail 10

echo
echo "objects: $COUNT under $OBJECTS, $BYTES bytes gzip; round trip +$RTT_MS ms (latency_proxy.py); median of $ROUNDS"
echo "trailscan: $READ"
echo
printf '| %-36s | %8s | %10s | %9s | %12s |\n' "command" "wall (s)" "objects/s" "MB/s gzip" "vs boto3"
printf '|%s|%s|%s|%s|%s|\n' "--------------------------------------" "---------:" "-----------:" "----------:" "-------------:"
LAST=$((${#NAMES[@]} - 1))
for i in "${!NAMES[@]}"; do
    s=${TIMES[$i]}
    printf '| %-36s | %8.2f | %10.0f | %9.1f | %11.2fx |\n' "${NAMES[$i]}" "$s" "$(echo "$COUNT / $s" | bc -l)" \
        "$(echo "$BYTES / 1000000 / $s" | bc -l)" "$(echo "${TIMES[$LAST]} / $s" | bc -l)"
done

echo
echo "CPU seconds of one run each ($(nproc) cores shared by the client, the S3 server and the proxy):"
echo
printf '| %-36s | %8s | %10s | %15s | %10s | %9s |\n' "client" "wall (s)" "client CPU" "client ms/object" "server CPU" "proxy CPU"
printf '|%s|%s|%s|%s|%s|%s|\n' "--------------------------------------" "---------:" "-----------:" "----------------:" "-----------:" "----------:"
printf '%s\n' "${CPU_ROWS[@]}"
