#!/usr/bin/env python3
"""What `aws cloudtrail validate-logs` does, for the side-by-side of Benchmarks/verify.sh.

For each region's digest chain under s3://BUCKET/PREFIX, newest first, as awscli's validation.py does:
GET the digest, read its signature from the object's metadata, verify it (SHA256withRSA over end time,
bucket/key, SHA-256 of the content, previous signature) with the key of its fingerprint, then GET every
log file it lists, inflating it 2048 bytes at a time into a SHA-256, and compare. One request at a time.

  validate_logs.py ENDPOINT BUCKET PREFIX KEYS.json
Prints the counts of valid and invalid digests and log files.
"""
import base64, hashlib, json, re, sys, zlib
from collections import defaultdict

import boto3
from botocore.config import Config
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

endpoint, bucket, prefix, keys_file = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
# Values are DER, PKCS #1 as the API documents (cryptography reads that and SubjectPublicKeyInfo alike).
keys = {entry["Fingerprint"]: serialization.load_der_public_key(base64.b64decode(entry["Value"]))
        for entry in json.load(open(keys_file))["PublicKeyList"]}

chains = defaultdict(list)
for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, Prefix=prefix):
    for obj in page.get("Contents", []):
        key = obj["Key"]
        if "/CloudTrail-Digest/" in key and key.endswith(".json.gz"):
            chains[re.sub(r"/\d{4}/\d{2}/\d{2}/.*_", "/", key[:-24])].append(key)

counts = defaultdict(int)
for chain in chains.values():
    for key in sorted(chain, reverse=True):
        response = s3.get_object(Bucket=bucket, Key=key)
        content = zlib.decompress(response["Body"].read(), zlib.MAX_WBITS | 16)
        digest = json.loads(content)
        signed = "%s\n%s/%s\n%s\n%s" % (digest["digestEndTime"], digest["digestS3Bucket"], digest["digestS3Object"],
                                         hashlib.sha256(content).hexdigest(), digest["previousDigestSignature"] or "null")
        try:
            keys[digest["digestPublicKeyFingerprint"]].verify(bytes.fromhex(response["Metadata"]["signature"]), signed.encode(),
                                                               padding.PKCS1v15(), hashes.SHA256())
            counts["valid digests"] += 1
        except Exception:
            counts["invalid digests"] += 1
            continue
        for log in digest["logFiles"]:
            body = s3.get_object(Bucket=log["s3Bucket"], Key=log["s3Object"])["Body"]
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            rolling = hashlib.sha256()
            for chunk in iter(lambda: body.read(2048), b""):
                rolling.update(inflater.decompress(chunk))
            rolling.update(inflater.flush())
            counts["valid log files" if rolling.hexdigest() == log["hashValue"] else "invalid log files"] += 1
print(", ".join("%d %s" % (n, name) for name, n in sorted(counts.items())))
