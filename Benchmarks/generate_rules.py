#!/usr/bin/env python3
"""Writes N realistic user rules in EventBridge pattern syntax, for the rule-matching benchmarks.

A mix like a team's real rule set: most rules name the events they want (EventBridge style, with
"source" and "detail-type"), others match by prefix, by principal wildcard or by error code — the
kinds that name no event and must be tried on every record.

  Benchmarks/generate_rules.py 100 > /tmp/rules-100.json
"""

import json
import sys

SERVICES = {
    "ec2": ["RunInstances", "TerminateInstances", "AuthorizeSecurityGroupIngress", "CreateKeyPair",
            "ModifyInstanceAttribute", "CreateVpc", "DeleteVpc", "CreateSnapshot"],
    "s3": ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutBucketPublicAccessBlock",
           "DeleteBucket", "PutBucketLogging"],
    "kms": ["ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy", "CreateGrant"],
    "lambda": ["CreateFunction20150331", "UpdateFunctionCode20150331v2", "AddPermission20150331v2"],
    "rds": ["ModifyDBInstance", "DeleteDBInstance", "RestoreDBInstanceFromDBSnapshot"],
    "ssm": ["StartSession", "SendCommand", "PutParameter"],
    "sts": ["GetSessionToken", "GetFederationToken"],
    "organizations": ["LeaveOrganization", "RemoveAccountFromOrganization", "CreateAccount"],
    "guardduty": ["DeleteDetector", "DisassociateFromMasterAccount"],
    "config": ["StopConfigurationRecorder", "DeleteDeliveryChannel"],
}


def rules(count):
    out = []
    names = [(service, name) for service, events in SERVICES.items() for name in events]
    i = 0
    while len(out) < count:
        kind = i % 5
        service, name = names[i % len(names)]
        if kind in (0, 1):  # named events, EventBridge style
            pattern = {"source": ["aws." + service], "detail-type": ["AWS API Call via CloudTrail"],
                       "detail": {"eventSource": [service + ".amazonaws.com"], "eventName": [name]}}
        elif kind == 2:  # a family of events by prefix
            verb = name[:6]
            pattern = {"detail": {"eventSource": [service + ".amazonaws.com"], "eventName": [{"prefix": verb}],
                                  "errorCode": [{"exists": False}]}}
        elif kind == 3:  # anything by some principals
            pattern = {"detail": {"userIdentity": {"arn": [{"wildcard": "arn:aws:iam::*:user/contractor-%d-*" % i}]}}}
        else:  # refused calls on a service
            pattern = {"detail": {"eventSource": [service + ".amazonaws.com"],
                                  "errorCode": ["AccessDenied", "UnauthorizedOperation"],
                                  "userIdentity": {"type": [{"anything-but": "AWSService"}]}}}
        out.append({"id": "user.%03d" % i, "severity": ["low", "medium", "high"][i % 3],
                    "title": "User rule %d" % i, "pattern": pattern})
        i += 1
    return out


if __name__ == "__main__":
    json.dump(rules(int(sys.argv[1]) if len(sys.argv) > 1 else 100), sys.stdout, indent=1)
    print()
