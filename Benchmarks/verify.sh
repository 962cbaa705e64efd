#!/usr/bin/env bash
# Digest validation side by side: `trailscan verify` against what `aws cloudtrail validate-logs` does
# (Benchmarks/validate_logs.py: awscli's algorithm, one request at a time), on the same trail with signed
# hourly digests, through the local S3 server; and `trailscan verify` on the local copy.
#
#   Benchmarks/verify.sh                          # a ~300 MB trail in $TRAIL (generated once), 3 rounds
#   TRAIL=/dev/shm/trail BYTES=1000000000 ROUNDS=1 Benchmarks/verify.sh
#
# Prints the median wall time of each and the ratio. Nothing here is a test: no threshold.
set -euo pipefail
cd "$(dirname "$0")/.."

TRAIL=${TRAIL:-/tmp/trailscan-trail}
BYTES=${BYTES:-300000000}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-9320}

if [ ! -d "$TRAIL/copy" ]; then
    echo "generating a trail with digests in $TRAIL ..." >&2
    mkdir -p "$TRAIL"
    python3 scripts/generate_logs.py --out "$TRAIL/copy" --regions 17 --files-per-day 24 --records-per-file 200 \
        --target-bytes "$BYTES" --bucket trail --digest-key "$TRAIL/key.pem" \
        --public-keys-out "$TRAIL/keys.json" --signatures-out "$TRAIL/signatures.json"
    # The newest digest of each region keeps its signature beside it (it has no successor to hold it).
    python3 - "$TRAIL" << 'PY'
import json, os, re, sys
trail = sys.argv[1]
signatures = json.load(open(os.path.join(trail, "signatures.json")))
newest = {}
for key in signatures:
    chain = re.sub(r"/\d{4}/\d{2}/\d{2}/", "/", key)[:-24]
    newest[chain] = max(newest.get(chain, key), key)
for key in newest.values():
    open(os.path.join(trail, "copy", key + ".signature"), "w").write(signatures[key])
PY
fi
source Benchmarks/s3_gateway.sh

python3 - "$PORT" "$TRAIL" << 'PY'
import json, os, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config
port, trail = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  config=Config(max_pool_connections=16, s3={"addressing_style": "path"}))
signatures = json.load(open(os.path.join(trail, "signatures.json")))
root = os.path.join(trail, "copy")
files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".json.gz")]
def put(path):
    key = os.path.relpath(path, root)
    metadata = {"signature": signatures[key], "signature-algorithm": "SHA256withRSA"} if key in signatures else {}
    with open(path, "rb") as body:
        s3.put_object(Bucket="trail", Key=key, Body=body, Metadata=metadata)
with ThreadPoolExecutor(16) as pool:
    list(pool.map(put, files))
PY
DIGESTS=$(find "$TRAIL/copy" -path '*CloudTrail-Digest*' -name '*.json.gz' | wc -l)
LOGS=$(find "$TRAIL/copy" -path '*/CloudTrail/*' -name '*.json.gz' | wc -l)
GZIP_MB=$(find "$TRAIL/copy" -path '*/CloudTrail/*' -name '*.json.gz' -print0 | xargs -0 cat | wc -c | awk '{ printf "%.0f", $1 / 1e6 }')
ENDPOINT=http://127.0.0.1:$PORT

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
seconds() {  # seconds COMMAND...: median wall time of $ROUNDS runs; the last run's output in $WORK/out
    for _ in $(seq "$ROUNDS"); do
        local start end
        start=$(date +%s.%N)
        "$@" > "$WORK/out" 2>&1 || { echo "failed: $*" >&2; cat "$WORK/out" >&2; exit 1; }
        end=$(date +%s.%N)
        echo "$end - $start" | bc -l
    done | median
}

echo "trail: $DIGESTS digests, $LOGS log files, $GZIP_MB MB of gzip; $ROUNDS rounds, median wall time"
S3=$(seconds "$TRAILSCAN" verify --public-keys "$TRAIL/keys.json" --endpoint-url "$ENDPOINT" s3://trail/)
echo "  trailscan verify s3://trail/            ${S3} s   $(tail -1 "$WORK/out")"
PY=$(seconds python3 Benchmarks/validate_logs.py "$ENDPOINT" trail "" "$TRAIL/keys.json")
echo "  validate-logs algorithm (Python, S3)    ${PY} s   $(tail -1 "$WORK/out")"
LOCAL=$(seconds "$TRAILSCAN" verify --public-keys "$TRAIL/keys.json" "$TRAIL/copy")
echo "  trailscan verify (local copy)          ${LOCAL} s   $(tail -1 "$WORK/out")"
echo "ratio, validate-logs algorithm / trailscan verify on S3: $(echo "$PY / $S3" | bc -l | xargs printf '%.1f')x"

# What hashing costs a scan: `scan --verify` reads the digests first and hashes every log file while it
# inflates it. Exit status 1 (alerts found) is success here.
alerts_ok() { "$@"; [ $? -le 1 ]; }
SCAN=$(seconds alerts_ok "$TRAILSCAN" scan -q --format jsonl "$TRAIL/copy")
echo "  trailscan scan (local copy)             ${SCAN} s"
VSCAN=$(seconds alerts_ok "$TRAILSCAN" scan -q --format jsonl --verify --public-keys "$TRAIL/keys.json" "$TRAIL/copy")
echo "  trailscan scan --verify (local copy)    ${VSCAN} s"
S3SCAN=$(seconds alerts_ok "$TRAILSCAN" scan -q --format jsonl --endpoint-url "$ENDPOINT" s3://trail/)
echo "  trailscan scan s3://trail/              ${S3SCAN} s"
S3VSCAN=$(seconds alerts_ok "$TRAILSCAN" scan -q --format jsonl --verify --public-keys "$TRAIL/keys.json" --endpoint-url "$ENDPOINT" s3://trail/)
echo "  trailscan scan --verify s3://trail/     ${S3VSCAN} s"
echo "cost of --verify: local $(echo "100 * ($VSCAN / $SCAN - 1)" | bc -l | xargs printf '%+.0f')%, S3 $(echo "100 * ($S3VSCAN / $S3SCAN - 1)" | bc -l | xargs printf '%+.0f')%"
