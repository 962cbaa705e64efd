#!/usr/bin/env python3
"""The usual way to read a CloudTrail bucket from Python: list with boto3, download with a thread pool.

  Benchmarks/s3_download_boto3.py ENDPOINT BUCKET [THREADS]

Lists every object under the bucket (ListObjectsV2 pages), then downloads each one whole with
get_object on THREADS threads (default 10, the usual default of existing tools, e.g. the AWS CLI's
max_concurrent_requests). Prints objects, bytes and seconds. Credentials come from the environment.
"""

import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

endpoint, bucket = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 10
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(max_pool_connections=threads, s3={"addressing_style": "path"}))

start = time.monotonic()
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    keys += [item["Key"] for item in page.get("Contents", [])]


def download(key):
    return len(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


with ThreadPoolExecutor(threads) as pool:
    total = sum(pool.map(download, keys))
print(f"{len(keys)} objects {total} bytes {time.monotonic() - start:.3f} s")
