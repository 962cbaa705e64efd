"""Makes the inputs of Benchmarks/memory.sh from a corpus of CloudTrail objects.

    python3 Benchmarks/make_memory_inputs.py CORPUS WORK

WORK/one-big-object.json.gz: the corpus's records, one after another, in a single {"Records":[...]} of
about 1.05 GB of JSON (written as it is read, never held). WORK/many: 100,000 objects of one record each.
WORK/failed-signins: 1,000,000 failed console sign-ins from 100,000 addresses over ten days, in the
CloudTrail layout (1,000 objects of 1,000 records, each named for a delivery 5 minutes after its last
record): what the windowed rules must count without their memory following the scan.
"""
import glob
import gzip
import json
import os
import sys
import time

BIG_OBJECT_JSON_BYTES = 1_050_000_000
SMALL_OBJECTS = 100_000


def main(corpus: str, work: str) -> None:
    files = sorted(glob.glob(os.path.join(corpus, "AWSLogs/**/*.json.gz"), recursive=True))
    files = [f for f in files if "CloudTrail-Digest" not in f]
    if not files:
        sys.exit(f"no .json.gz objects under {corpus}/AWSLogs")
    os.makedirs(work, exist_ok=True)

    written = 0
    with gzip.open(os.path.join(work, "one-big-object.json.gz"), "wt", compresslevel=6) as out:
        out.write('{"Records":[')
        for path in files:
            with gzip.open(path) as f:
                for record in json.load(f)["Records"]:
                    text = json.dumps(record, separators=(",", ":"))
                    out.write(("," if written else "") + text)
                    written += len(text) + 1
            if written > BIG_OBJECT_JSON_BYTES:
                break
        out.write("]}")

    with gzip.open(files[0]) as f:
        record = json.load(f)["Records"][0]
    for i in range(SMALL_OBJECTS):
        folder = os.path.join(work, "many", "AWSLogs", "%03d" % (i // 1000))
        if i % 1000 == 0:
            os.makedirs(folder, exist_ok=True)
        record["eventID"] = "e-%d" % i
        with gzip.open(os.path.join(folder, "o%05d.json.gz" % i), "wt", compresslevel=1) as out:
            json.dump({"Records": [record]}, out)
    failed_signins(os.path.join(work, "failed-signins"))
    print(f"{work}: one object of {written} bytes of JSON, {SMALL_OBJECTS} small objects, {FAILED_SIGNINS} failed sign-ins")


FAILED_SIGNINS = 1_000_000
ADDRESSES = 100_000


def failed_signins(folder: str) -> None:
    account = "111122223333"
    start = 1_772_323_200  # 2026-03-01T00:00:00Z
    per_object = 1000
    spacing = 10 * 86_400 / FAILED_SIGNINS
    for index in range(FAILED_SIGNINS // per_object):
        records = []
        for n in range(index * per_object, (index + 1) * per_object):
            t = start + int(n * spacing)
            ip = n * 7919 % ADDRESSES
            records.append({
                "eventVersion": "1.08", "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                "userIdentity": {"type": "IAMUser", "principalId": account, "accountId": account, "userName": "user%d" % (n % 5000)},
                "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": "us-east-1",
                "sourceIPAddress": "10.%d.%d.%d" % (ip >> 16, (ip >> 8) & 255, ip & 255), "userAgent": "Mozilla/5.0",
                "requestParameters": None, "responseElements": {"ConsoleLogin": "Failure"},
                "additionalEventData": {"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/"},
                "errorMessage": "Failed authentication", "eventID": "f%07d-0000-4000-a000-000000000000" % n,
                "eventType": "AwsConsoleSignIn", "managementEvent": True, "recipientAccountId": account,
            })
        delivered = time.gmtime(start + int(((index + 1) * per_object - 1) * spacing) + 300)
        day = time.strftime("%Y/%m/%d", delivered)
        path = os.path.join(folder, "AWSLogs", account, "CloudTrail", "us-east-1", day)
        os.makedirs(path, exist_ok=True)
        name = "%s_CloudTrail_us-east-1_%s_f%06d.json.gz" % (account, time.strftime("%Y%m%dT%H%MZ", delivered), index)
        with gzip.open(os.path.join(path, name), "wt", compresslevel=1) as out:
            json.dump({"Records": records}, out, separators=(",", ":"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
