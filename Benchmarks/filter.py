"""The filter every tool of the comparison applies, written once: console sign-ins, and IAM calls to the
events the built-in pack names. `Benchmarks/compare.sh` turns it into a jq program and an EventBridge
rule file for trailscan; the Python scans import it."""

IAM_EVENTS = [
    "CreateUser", "DeleteUser", "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile",
    "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "DetachUserPolicy", "DetachRolePolicy",
    "DetachGroupPolicy", "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "DeleteUserPolicy", "DeleteRolePolicy",
    "DeleteGroupPolicy", "CreatePolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion", "AddUserToGroup",
    "CreateRole", "UpdateAssumeRolePolicy", "PutUserPermissionsBoundary", "PutRolePermissionsBoundary",
    "DeleteUserPermissionsBoundary", "DeleteRolePermissionsBoundary", "DeactivateMFADevice", "DeleteVirtualMFADevice",
    "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy", "CreateSAMLProvider", "UpdateSAMLProvider",
    "DeleteSAMLProvider", "CreateOpenIDConnectProvider", "UpdateOpenIDConnectProviderThumbprint",
    "AddClientIDToOpenIDConnectProvider",
]
IAM_SET = frozenset(IAM_EVENTS)


def matches(record):
    source, name = record.get("eventSource"), record.get("eventName")
    return (source == "signin.amazonaws.com" and name == "ConsoleLogin") or (source == "iam.amazonaws.com" and name in IAM_SET)


def jq_program():
    names = ",".join('"%s"' % n for n in IAM_EVENTS)
    return ('.Records[] | select((.eventSource == "signin.amazonaws.com" and .eventName == "ConsoleLogin") or '
            '(.eventSource == "iam.amazonaws.com" and (.eventName | IN(%s)))) | .eventID' % names)


def rg_pattern():
    """A regular expression for `rg -z -c`: the event names as JSON members. It finds objects, not
    records (a CloudTrail object is one line), so it times a search, not the same answer."""
    return '"eventName":"(ConsoleLogin|%s)"' % "|".join(IAM_EVENTS)


def eventbridge_rules():
    pattern = {"detail": {"$or": [
        {"eventSource": ["signin.amazonaws.com"], "eventName": ["ConsoleLogin"]},
        {"eventSource": ["iam.amazonaws.com"], "eventName": IAM_EVENTS},
    ]}}
    return [{"id": "compare.filter", "severity": "info", "title": "Sign-ins and IAM changes", "pattern": pattern}]


if __name__ == "__main__":
    import json, sys
    if sys.argv[1:] == ["rg"]:
        print(rg_pattern())
        sys.exit(0)
    if sys.argv[1:] == ["jq"]:
        print(jq_program())
    else:
        json.dump(eventbridge_rules(), sys.stdout)
