#!/usr/bin/env bash
# What scheduled scans (--state) cost: a bucket of DAYS days x 17 regions x 3 accounts (FILES objects per
# region and day) on the local S3 server, then
#   1. the first run (--since the first day: the whole bucket),
#   2. a run with nothing new (what cron runs every 15 minutes),
#   3. a run after 10 new objects, one of them late (in yesterday's folder, named yesterday),
#   4. the no-op run again with 1,000,000 more objects recorded in the state,
# each with its S3 list requests, objects read, objects recognized as already scanned, wall time, peak
# RSS and the state file's size.
#
#   Benchmarks/incremental.sh                 # DAYS=90 FILES=2: 9,180 objects
#   DAYS=30 FILES=4 Benchmarks/incremental.sh
#
# Starts `juicefs gateway --keep-etag` (the S3 server of the tests) on 127.0.0.1 and stops it by pid.
# Nothing here is a test: no threshold.
set -euo pipefail
cd "$(dirname "$0")/.."

DAYS=${DAYS:-90}
FILES=${FILES:-2}
PORT=${PORT:-9330}
python3 -c "import boto3" 2> /dev/null || { echo "boto3 not found: pip install boto3" >&2; exit 64; }
source Benchmarks/s3_gateway.sh

START=$(date -u -d "$((DAYS - 1)) days ago" +%Y-%m-%d)
python3 scripts/generate_logs.py --out "$WORK/corpus" --start "$START" --days "$DAYS" --accounts 3 --regions 17 \
    --files-per-day "$FILES" --records-per-file 4 > /dev/null
COUNT=$(find "$WORK/corpus" -name "*.json.gz" -not -path "*CloudTrail-Digest*" | wc -l)


# Uploads the objects of a folder (keys as below it), or the files named after it.
upload() {
    python3 - "$PORT" "$@" << 'PY'
import os, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config
port, base = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  config=Config(max_pool_connections=16, s3={"addressing_style": "path"}))
files = sys.argv[3:] or [os.path.join(d, f) for d, _, fs in os.walk(base) for f in fs
                         if f.endswith(".json.gz") and "CloudTrail-Digest" not in d]
def put(path):
    with open(path, "rb") as body:
        s3.put_object(Bucket="trail", Key=os.path.relpath(path, base), Body=body)
with ThreadPoolExecutor(16) as pool:
    list(pool.map(put, files))
PY
}
upload "$WORK/corpus"

STATE=$WORK/state.db
# One run: prints its row of the table.
run() {
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$TRAILSCAN" scan -q --format jsonl --state "$STATE" --summary-out "$WORK/summary.json" \
        --endpoint-url "http://127.0.0.1:$PORT" "$@" s3://trail/ > "$WORK/alerts.jsonl" || [ $? -eq 1 ]
    python3 - "$label" "$WORK/summary.json" "$WORK/time" "$STATE" "$WORK/alerts.jsonl" << 'PY'
import json, os, sys
label, summary, timing, state, alerts = sys.argv[1:]
objects = json.load(open(summary))["objects"]
wall, rss = open(timing).read().splitlines()[-1].split()  # after "Command exited with non-zero status 1"
print(f"| {label} | {objects['listRequests']} | {objects['scanned']} | {objects['alreadyScanned']} | "
      f"{sum(1 for _ in open(alerts))} | {float(wall):.2f} | {int(rss) // 1024} | {os.path.getsize(state) / 1e6:.1f} |")
PY
}

echo "bucket: $DAYS days x 17 regions x 3 accounts, $COUNT objects; look-back 2d"
echo
echo "| run | list requests | objects read | already scanned | alerts | wall s | peak RSS MiB | state MB |"
echo "|---|---|---|---|---|---|---|---|"
run "first (--since $START)" --since "$START"
run "nothing new"

# Ten new objects: nine delivered now in as many account x region folders, one late in yesterday's.
python3 - "$WORK/corpus" "$WORK/new" << 'PY'
import datetime as dt, gzip, json, os, random, sys
corpus, out = sys.argv[1], sys.argv[2]
now = dt.datetime.now(dt.timezone.utc)
accounts = ["111122223333", "444455556666", "777788889999"]
regions = ["us-east-1", "eu-west-1", "ap-south-1"]
places = [(a, r, now) for a in accounts for r in regions] + [("111122223333", "us-east-1", now - dt.timedelta(days=1))]
for index, (account, region, when) in enumerate(places):
    record = {"eventVersion": "1.08", "userIdentity": {"type": "Root", "arn": f"arn:aws:iam::{account}:root", "accountId": account},
              "eventTime": (when - dt.timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "signin.amazonaws.com",
              "eventName": "ConsoleLogin", "awsRegion": region, "sourceIPAddress": "203.0.113.7", "userAgent": "Mozilla",
              "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "No"},
              "eventID": f"bench-new-{index}", "eventType": "AwsConsoleSignIn", "recipientAccountId": account}
    folder = f"AWSLogs/{account}/CloudTrail/{region}/{when:%Y/%m/%d}"
    name = f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%M}Z_new{index:012d}.json.gz"
    os.makedirs(os.path.join(out, folder), exist_ok=True)
    with open(os.path.join(out, folder, name), "wb") as f:
        f.write(gzip.compress(json.dumps({"Records": [record]}).encode(), mtime=0))
PY
upload "$WORK/new"
run "10 new (1 late)"

# A million more objects in the state (other keys of the same bucket): the no-op run again.
python3 - "$STATE" << 'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
run = db.execute("SELECT max(id) FROM runs").fetchone()[0]
rows = ((f"s3://trail/AWSLogs/999999999999/CloudTrail/us-east-1/2020/01/01/filler-{i:07d}.json.gz".encode(),
         f"s3://trail/AWSLogs/999999999999/CloudTrail/us-east-1/2020/01/01/filler-{i:07d}.json.gz", "s3",
         f'etag "{i:032x}"', "ok", None, None, 0, run, 100, 0) for i in range(1_000_000))
with db:
    db.executemany("INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
run "nothing new, 1,000,000 more objects in the state"
