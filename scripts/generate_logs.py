#!/usr/bin/env python3
"""Deterministic generator of realistic CloudTrail log objects.

Writes gzip JSON objects, {"Records": [...]}, in the S3 layout CloudTrail uses:

  AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/
      <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz

Most records are ordinary noise (describe/list/get calls, role assumptions, KMS, S3, Lambda, logs);
a fixed set of sign-in and IAM events that the built-in rules must flag is planted in the first
account, on the first days, in us-east-1 (where IAM and most sign-ins are recorded) and one other
region. The same arguments always give byte-identical files (seeded RNG, gzip mtime 0).

  scripts/generate_logs.py --out sample-logs                       # the committed sample (< 2 MB)
  scripts/generate_logs.py --out corpus --target-bytes 1000000000  # ~1 GB of JSON for benchmarks

Also prints, with --expect, the (rule, eventID) pairs the planted events must trigger.

With --digest-key, also writes what CloudTrail's log file validation writes: an hourly digest per
account and region (CloudTrail-Digest/…), chained, listing the SHA-256 of every log file delivered in
its hour, signed SHA256withRSA with that key (created when the file does not exist); the public key as
`aws cloudtrail list-public-keys` prints it (--public-keys-out), and each digest's signature, which S3
keeps in the object's metadata (`x-amz-meta-signature`), by key (--signatures-out). Needs the
`cryptography` package.

  scripts/generate_logs.py --out trail --digest-key key.pem --public-keys-out keys.json --signatures-out signatures.json
"""

import argparse
import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import random
import sys

ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
    "ap-southeast-2", "ap-south-1", "sa-east-1", "me-central-1",
]
USER_AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.210 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.25.3 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.4",
    "aws-sdk-java/2.25.16 Linux/5.10.210 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/adaptive",
    "terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0",
    "console.amazonaws.com",
    "cloudformation.amazonaws.com",
    "ec2.amazonaws.com",
]
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36"

NOISE = [
    # (eventSource, eventName, readOnly, requestParameters factory)
    ("ec2.amazonaws.com", "DescribeInstances", True, lambda r: {"instancesSet": {}, "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}]}}),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", True, lambda r: {"securityGroupSet": {}, "securityGroupIdSet": {"items": [{"groupId": "sg-%017x" % r.getrandbits(68)}]}, "filterSet": {}}),
    ("ec2.amazonaws.com", "DescribeVolumes", True, lambda r: {"volumeSet": {}, "filterSet": {}, "maxResults": 500}),
    ("s3.amazonaws.com", "GetBucketAcl", True, lambda r: {"bucketName": "app-data-%d" % r.randint(1, 40), "Host": "s3.amazonaws.com", "acl": ""}),
    ("s3.amazonaws.com", "GetBucketPolicy", True, lambda r: {"bucketName": "logs-archive-%d" % r.randint(1, 9), "Host": "s3.amazonaws.com", "policy": ""}),
    ("sts.amazonaws.com", "AssumeRole", False, lambda r: {"roleArn": "arn:aws:iam::%s:role/ci-deploy" % r.choice(ACCOUNTS), "roleSessionName": "gha-%d" % r.randint(10**8, 10**9), "durationSeconds": 3600}),
    ("sts.amazonaws.com", "GetCallerIdentity", True, lambda r: None),
    ("kms.amazonaws.com", "Decrypt", True, lambda r: {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:lambda:FunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:ingest"}}),
    ("kms.amazonaws.com", "GenerateDataKey", True, lambda r: {"keyId": "alias/aws/s3", "keySpec": "AES_256", "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::app-data-%d" % r.randint(1, 40)}}),
    ("logs.amazonaws.com", "CreateLogStream", False, lambda r: {"logGroupName": "/aws/lambda/ingest", "logStreamName": "2026/03/0%d/[$LATEST]%032x" % (r.randint(1, 9), r.getrandbits(128))}),
    ("lambda.amazonaws.com", "GetFunction", True, lambda r: {"functionName": "ingest-%d" % r.randint(1, 12)}),
    ("monitoring.amazonaws.com", "GetMetricData", True, lambda r: {"startTime": "Mar 1, 2026, 10:00:00 AM", "endTime": "Mar 1, 2026, 11:00:00 AM", "metricDataQueries": [{"id": "m1", "returnData": True}]}),
    ("iam.amazonaws.com", "GetRole", True, lambda r: {"roleName": "ci-deploy"}),
    ("iam.amazonaws.com", "ListAttachedRolePolicies", True, lambda r: {"roleName": "app-%d" % r.randint(1, 30)}),
    ("dynamodb.amazonaws.com", "DescribeTable", True, lambda r: {"tableName": "orders-%d" % r.randint(1, 5)}),
    ("ssm.amazonaws.com", "GetParameters", True, lambda r: {"names": ["/app/db/password", "/app/db/user"], "withDecryption": True}),
]


class Clock:
    """Deterministic IDs."""

    def __init__(self, rng):
        self.rng = rng

    def uuid(self):
        h = "%032x" % self.rng.getrandbits(128)
        return "%s-%s-4%s-%s-%s" % (h[0:8], h[8:12], h[13:16], "a" + h[17:20], h[20:32])

    def unique(self):
        return "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def assumed_role(rng, account, role="app-runtime"):
    key = "ASIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    session = "i-%017x" % rng.getrandbits(68)
    return {
        "type": "AssumedRole",
        "principalId": "AROA%s:%s" % ("".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(17)), session),
        "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role, session),
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID", "arn": "arn:aws:iam::%s:role/%s" % (account, role), "accountId": account, "userName": role},
            "attributes": {"creationDate": "2026-03-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def iam_user(account, name, mfa=False):
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + ("%s%s" % (name.upper(), "EXAMPLEID"))[:17].ljust(17, "X"),
        "arn": "arn:aws:iam::%s:user/%s" % (account, name),
        "accountId": account,
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE" if not mfa else "ASIAIOSFODNN7EXAMPLE",
        "userName": name,
    }


def root(account):
    return {"type": "Root", "principalId": account, "arn": "arn:aws:iam::%s:root" % account, "accountId": account, "accessKeyId": ""}


def base_record(ids, t, account, region, source, name, identity, agent, ip, read_only, params, response=None, event_type="AwsApiCall"):
    rec = {
        "eventVersion": "1.11",
        "userIdentity": identity,
        "eventTime": iso(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": params,
        "responseElements": response,
        "requestID": ids.uuid(),
        "eventID": ids.uuid(),
        "readOnly": read_only,
        "eventType": event_type,
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if event_type == "AwsApiCall" and not agent.endswith("amazonaws.com"):
        rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "%s.%s.amazonaws.com" % (source.split(".")[0], region)}
    return rec


def noise_record(rng, ids, t, account, region):
    source, name, read_only, params = rng.choice(NOISE)
    agent = rng.choice(USER_AGENTS)
    ip = agent if agent.endswith("amazonaws.com") else "10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
    identity = assumed_role(rng, account, rng.choice(["app-runtime", "ci-deploy", "observability", "lambda-ingest"]))
    if agent.endswith("amazonaws.com") and agent != "console.amazonaws.com":
        identity["invokedBy"] = agent
    rec_region = "us-east-1" if source in ("iam.amazonaws.com",) else region
    rec = base_record(ids, t, account, rec_region, source, name, identity, agent, ip, read_only, params(rng))
    if rng.random() < 0.03:
        rec["errorCode"] = "AccessDenied"
        rec["errorMessage"] = "User: %s is not authorized to perform: %s:%s" % (identity["arn"], source.split(".")[0], name)
    return rec


def console_login(ids, t, account, region, identity, ok, mfa, ip="203.0.113.24"):
    rec = base_record(ids, t, account, region, "signin.amazonaws.com", "ConsoleLogin", identity, BROWSER, ip, False, None,
                      {"ConsoleLogin": "Success" if ok else "Failure"}, event_type="AwsConsoleSignIn")
    rec["additionalEventData"] = {
        "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
        "MobileVersion": "No",
        "MFAUsed": mfa,
    }
    if not ok:
        rec["errorMessage"] = "Failed authentication"
    rec.pop("tlsDetails", None)
    rec.pop("requestParameters")
    rec["requestParameters"] = None
    del rec["requestID"]
    return rec


def planted(ids, day, account, other_region):
    """The events the built-in rules must flag, with the rule ids each one triggers."""
    admin = iam_user(account, "alice")
    t0 = day + dt.timedelta(hours=9, minutes=3)
    out = []

    def add(rec, rules):
        out.append((rec, rules))

    def iam(minutes, name, params, response=None, identity=None, **extra):
        rec = base_record(ids, t0 + dt.timedelta(minutes=minutes), account, "us-east-1", "iam.amazonaws.com", name,
                          identity or admin, USER_AGENTS[0], "198.51.100.7", False, params, response)
        rec.update(extra)
        return rec

    add(console_login(ids, t0, account, "us-east-1", root(account), True, "No"), ["signin.no-mfa", "signin.root.success", "signin.success"])
    add(console_login(ids, t0 + dt.timedelta(minutes=1), account, "us-east-1", iam_user(account, "alice"), True, "Yes"), ["signin.success"])
    add(console_login(ids, t0 + dt.timedelta(minutes=2), account, other_region, iam_user(account, "bob"), True, "No", ip="192.0.2.33"), ["signin.no-mfa", "signin.success"])
    add(console_login(ids, t0 + dt.timedelta(minutes=3), account, "us-east-1", iam_user(account, "carol"), True, "YES"), ["signin.success"])
    failed = console_login(ids, t0 + dt.timedelta(minutes=4), account, "us-east-1",
                           {"type": "IAMUser", "principalId": account, "accountId": account, "accessKeyId": "", "userName": "mallory"}, False, "No", ip="198.51.100.99")
    add(failed, ["signin.failure"])
    add(console_login(ids, t0 + dt.timedelta(minutes=5), account, "us-east-1", root(account), False, "No", ip="198.51.100.99"), ["signin.root.failure"])
    sso_login = console_login(ids, t0 + dt.timedelta(minutes=6), account, "us-east-1", assumed_role(ids.rng, account, "AWSReservedSSO_Admin_0123456789abcdef"), True, "No")
    sso_login["userAgent"] = "Mozilla/5.0 \u001b[2J\u001b[31mpwned\u001b[0m (X11; Linux x86_64)"
    add(sso_login, ["signin.success"])
    add(iam(10, "CreateUser", {"userName": "backup-bot"}, {"user": {"path": "/", "userName": "backup-bot", "userId": "AIDAEXAMPLEBACKUPBOT", "arn": "arn:aws:iam::%s:user/backup-bot" % account, "createDate": "Mar 1, 2026, 9:13:00 AM"}}), ["iam.user.created"])
    add(iam(11, "CreateAccessKey", {"userName": "backup-bot"}, {"accessKey": {"userName": "backup-bot", "accessKeyId": "AKIAEXAMPLEBACKUP01", "status": "Active", "createDate": "Mar 1, 2026, 9:14:00 AM"}}), ["iam.access-key.created", "iam.access-key.for-other-user"])
    add(iam(12, "AttachUserPolicy", {"userName": "backup-bot", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}), ["iam.policy.admin-attached", "iam.created-then-admin"])
    add(iam(13, "AttachRolePolicy", {"roleName": "app-runtime", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}), ["iam.policy.attached"])
    add(iam(14, "CreateLoginProfile", {"userName": "backup-bot", "passwordResetRequired": False}), ["iam.login-profile.changed"])
    add(iam(15, "PutRolePolicy", {"roleName": "app-runtime", "policyName": "inline-s3", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"}), ["iam.policy.inline-put"])
    add(iam(16, "CreateRole", {"roleName": "vendor-access", "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::999988887777:root\"},\"Action\":\"sts:AssumeRole\"}]}"}), ["iam.role.created", "iam.role.external-trust"])
    add(iam(17, "UpdateAssumeRolePolicy", {"roleName": "vendor-access", "policyDocument": "{}"}), ["iam.role.trust-changed"])
    add(iam(18, "AddUserToGroup", {"groupName": "admins", "userName": "backup-bot"}), ["iam.group.member-added"])
    add(iam(19, "DeactivateMFADevice", {"userName": "bob", "serialNumber": "arn:aws:iam::%s:mfa/bob" % account}), ["iam.mfa.deactivated"])
    add(iam(20, "CreatePolicyVersion", {"policyArn": "arn:aws:iam::%s:policy/deploy" % account, "policyDocument": "{}", "setAsDefault": True}), ["iam.policy.version-changed"])
    denied = iam(21, "AttachRolePolicy", {"roleName": "app-runtime", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
                 identity=assumed_role(ids.rng, account, "app-runtime"))
    denied["errorCode"] = "AccessDenied"
    denied["errorMessage"] = "User is not authorized to perform: iam:AttachRolePolicy"
    add(denied, ["iam.denied-write"])
    add(iam(22, "DeleteUser", {"userName": "old-contractor"}), ["iam.user.deleted"])
    root_key = iam(23, "CreateAccessKey", None, {"accessKey": {"accessKeyId": "AKIAEXAMPLEROOTKEY1", "status": "Active"}}, identity=root(account))
    add(root_key, ["iam.access-key.root", "root.activity"])
    trail = base_record(ids, t0 + dt.timedelta(minutes=30), account, other_region, "cloudtrail.amazonaws.com", "StopLogging",
                        admin, USER_AGENTS[0], "198.51.100.7", False, {"name": "arn:aws:cloudtrail:%s:%s:trail/org-trail" % (other_region, account)})
    add(trail, ["cloudtrail.tampering"])
    recovery = base_record(ids, t0 + dt.timedelta(minutes=31), account, "us-east-1", "signin.amazonaws.com", "PasswordRecoveryRequested",
                           {"type": "Root", "principalId": account, "arn": "arn:aws:iam::%s:root" % account, "accountId": account}, BROWSER, "198.51.100.99", False, None, {"PasswordRecoveryRequested": "Success"}, event_type="AwsConsoleSignIn")
    add(recovery, ["root.activity", "signin.root.password-recovery"])
    return out


def write_gzip(path, body):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(body)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def write_object(path, records, delivered=None, at=None):
    body = json.dumps({"Records": records}, separators=(",", ":"), ensure_ascii=False).encode()
    write_gzip(path, body)
    if delivered is not None:
        delivered.append((path, at, hashlib.sha256(body).hexdigest(), records))
    return len(body)


def write_digests(args, delivered, accounts, regions):
    """Hourly digests per account and region, chained, over every delivery of `delivered`."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if os.path.exists(args.digest_key):
        with open(args.digest_key, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with open(args.digest_key, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    fingerprint = hashlib.md5(der).hexdigest()
    first = min(at for _, at, _, _ in delivered)
    last = max(at for _, at, _, _ in delivered)
    # CloudTrail's hours start at an arbitrary second; these at :01:31, from the hour before the first delivery.
    start = first.replace(minute=1, second=31) - dt.timedelta(hours=2)
    signatures = {}
    for account in accounts:
        for region in regions:
            mine = sorted((at, path, digest, records) for path, at, digest, records in delivered
                          if "/%s/CloudTrail/%s/" % (account, region) in path)
            previous = None
            begin = start
            while begin <= last:
                end = begin + dt.timedelta(hours=1)
                files = [(path, digest, records) for at, path, digest, records in mine if begin <= at < end]
                day = os.path.join("AWSLogs", *([args.org] if args.org else []), account, "CloudTrail-Digest", region, end.strftime("%Y/%m/%d"))
                key_name = args.prefix + "%s/%s_CloudTrail-Digest_%s_%s_us-east-1_%s.json.gz" % (day, account, region, args.trail, end.strftime("%Y%m%dT%H%M%SZ"))
                times = sorted(r["eventTime"] for _, _, records in files for r in records)
                digest = {
                    "awsAccountId": account, "digestStartTime": iso(begin), "digestEndTime": iso(end),
                    "digestS3Bucket": args.bucket, "digestS3Object": key_name, "digestPublicKeyFingerprint": fingerprint,
                    "digestSignatureAlgorithm": "SHA256withRSA",
                    "newestEventTime": times[-1] if times else None, "oldestEventTime": times[0] if times else None,
                    "previousDigestS3Bucket": args.bucket if previous else None,
                    "previousDigestS3Object": previous[0] if previous else None,
                    "previousDigestHashValue": previous[1] if previous else None,
                    "previousDigestHashAlgorithm": "SHA-256" if previous else None,
                    "previousDigestSignature": previous[2] if previous else None,
                    "logFiles": [{"s3Bucket": args.bucket, "s3Object": args.prefix + os.path.relpath(path, args.out), "hashValue": digest_value,
                                  "hashAlgorithm": "SHA-256", "newestEventTime": max(r["eventTime"] for r in records),
                                  "oldestEventTime": min(r["eventTime"] for r in records)} for path, digest_value, records in files],
                }
                body = json.dumps(digest, indent=2).encode()
                content_hash = hashlib.sha256(body).hexdigest()
                signed = "%s\n%s/%s\n%s\n%s" % (iso(end), args.bucket, key_name, content_hash, previous[2] if previous else "null")
                signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()
                write_gzip(os.path.join(args.out, key_name[len(args.prefix):]), body)
                signatures[key_name] = signature
                previous = (key_name, content_hash, signature)
                begin = end
    if args.public_keys_out:
        with open(args.public_keys_out, "w") as f:
            json.dump({"PublicKeyList": [{"Value": base64.b64encode(der).decode(), "ValidityStartTime": iso(start),
                                          "ValidityEndTime": iso(last + dt.timedelta(days=30)), "Fingerprint": fingerprint}]}, f, indent=2)
    if args.signatures_out:
        with open(args.signatures_out, "w") as f:
            json.dump(signatures, f, indent=2, sort_keys=True)


def generate(args):
    rng = random.Random(args.seed)
    ids = Clock(rng)
    start = dt.datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    regions = REGIONS[: args.regions]
    accounts = ACCOUNTS[: args.accounts]
    expected = []
    delivered = [] if args.digest_key else None
    total = 0
    day_index = 0
    while True:
        day = start + dt.timedelta(days=day_index)
        for account in accounts:
            for region in regions:
                plant = account == accounts[0] and region in ("us-east-1", "eu-west-1") and day_index < 2
                for slot in range(args.files_per_day):
                    delivery = day + dt.timedelta(minutes=(slot + 1) * (1440 // (args.files_per_day + 1)))
                    count = max(1, int(rng.expovariate(1 / args.records_per_file)))
                    records = []
                    for _ in range(count):
                        t = delivery - dt.timedelta(seconds=rng.randint(30, 900))
                        records.append(noise_record(rng, ids, t, account, region))
                    prefix = os.path.join(args.out, "AWSLogs", *( [args.org] if args.org else [] ), account, "CloudTrail", region, day.strftime("%Y/%m/%d"))
                    if plant and slot == 1:
                        # The planted events go in a file of their own, delivered minutes after the last of them, as
                        # CloudTrail delivers (a record delivered hours late would not count for the windowed rules).
                        # Its name comes from a generator of its own, so every other file and ID stays the same.
                        mine = []
                        for rec, rules in planted(ids, day, account, "eu-west-1"):
                            if rec["awsRegion"] == region:
                                mine.append(rec)
                                expected.extend((rule, rec["eventID"]) for rule in rules)
                        if mine:
                            mine.sort(key=lambda r: r["eventTime"])
                            at = dt.datetime.strptime(mine[-1]["eventTime"], "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(minutes=5)
                            own = Clock(random.Random("%s/%s/%s" % (account, region, day.date())))
                            name = "%s_CloudTrail_%s_%s_%s.json.gz" % (account, region, at.strftime("%Y%m%dT%H%MZ"), own.unique())
                            total += write_object(os.path.join(prefix, name), mine, delivered, at.replace(tzinfo=dt.timezone.utc))
                        records.sort(key=lambda r: r["eventTime"])
                    name = "%s_CloudTrail_%s_%s_%s.json.gz" % (account, region, delivery.strftime("%Y%m%dT%H%MZ"), ids.unique())
                    total += write_object(os.path.join(prefix, name), records, delivered, delivery)
        if args.digest and not args.digest_key and day_index == 0:
            digest_dir = os.path.join(args.out, "AWSLogs", accounts[0], "CloudTrail-Digest", "us-east-1", day.strftime("%Y/%m/%d"))
            os.makedirs(digest_dir, exist_ok=True)
            digest = {"awsAccountId": accounts[0], "digestStartTime": iso(day), "digestEndTime": iso(day + dt.timedelta(hours=1)),
                      "digestS3Bucket": "org-trail-logs", "logFiles": [], "digestSignatureAlgorithm": "SHA256withRSA"}
            with gzip.GzipFile(os.path.join(digest_dir, "%s_CloudTrail-Digest_us-east-1_org-trail_us-east-1_%sT0100Z.json.gz" % (accounts[0], day.strftime("%Y%m%d"))), "wb", mtime=0) as gz:
                gz.write(json.dumps(digest).encode())
        day_index += 1
        if args.target_bytes == 0 and day_index >= args.days:
            break
        if args.target_bytes and total >= args.target_bytes:
            break
    if args.digest_key:
        write_digests(args, delivered, accounts, regions)
    return expected, total


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=20260301)
    p.add_argument("--start", default="2026-03-01")
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--accounts", type=int, default=3)
    p.add_argument("--regions", type=int, default=12)
    p.add_argument("--files-per-day", type=int, default=3)
    p.add_argument("--records-per-file", type=float, default=12)
    p.add_argument("--org", default="", help="organization id (o-xxxxxxxxxx) for the org-trail layout")
    p.add_argument("--target-bytes", type=int, default=0, help="keep adding days until this much JSON is written")
    p.add_argument("--digest", action="store_true", default=True)
    p.add_argument("--digest-key", help="write signed hourly digests with this RSA key (PEM; created if absent)")
    p.add_argument("--bucket", default="org-trail-logs", help="the bucket the digests say they were delivered to")
    p.add_argument("--prefix", default="", help="the trail's S3 key prefix (ending in /) the digests record; --out holds what is under it")
    p.add_argument("--trail", default="org-trail", help="the trail name in digest file names")
    p.add_argument("--public-keys-out", help="write the public key as aws cloudtrail list-public-keys prints it")
    p.add_argument("--signatures-out", help="write each digest's signature (its S3 metadata), by key")
    p.add_argument("--expect", action="store_true", help="print the expected (rule, eventID) pairs")
    args = p.parse_args()
    expected, total = generate(args)
    if args.expect:
        for rule, event_id in sorted(expected):
            print(rule, event_id)
    print("wrote %d bytes of JSON to %s" % (total, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
