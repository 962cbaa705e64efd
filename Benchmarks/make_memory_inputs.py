"""Makes the inputs of Benchmarks/memory.sh from a corpus of CloudTrail objects.

    python3 Benchmarks/make_memory_inputs.py CORPUS WORK

WORK/one-big-object.json.gz: the corpus's records, one after another, in a single {"Records":[...]} of
about 1.05 GB of JSON (written as it is read, never held). WORK/many: 100,000 objects of one record each.
"""
import glob
import gzip
import json
import os
import sys

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
    print(f"{work}: one object of {written} bytes of JSON, {SMALL_OBJECTS} small objects")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
