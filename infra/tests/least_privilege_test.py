"""Least privilege, checked on the processed template (`make test`).

infra/template.yaml goes through the AWS::Serverless transform (aws-sam-translator, the library
`sam deploy` and CloudFormation use), and for every function of the result:

- the function is one of the workspace's (functions/<name>/) and every workspace function is
  deployed;
- no statement of its own policies allows an action with a wildcard, and a `*` resource only
  where the action cannot name one (KMS via SNS, narrowed by a condition);
- its actions are exactly the ones its code calls, listed below with where the code calls them,
  so that a new SDK call fails this test until the template grants it, and a grant the code no
  longer needs fails it too.

Run: .venv/bin/python infra/tests/least_privilege_test.py
"""

import copy
import os
import pathlib
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parents[2]

# What each function's code calls (beyond what its event source mapping grants Lambda itself).
CODE_CALLS = {
    # functions/webhook -> shared::ingest: the verified body, or its parts, or a parked body.
    "webhook": {"sqs:SendMessage"},
    # functions/processor -> shared::process, shared::store: message states (BatchGetItem,
    # GetItem), routes (Query on gsi1), a template's campaigns (Query on gsi2, BatchGetItem), alerts/history/feed/unrouted (PutItem),
    # message/template/campaign updates (UpdateItem), parking (SendMessage).
    "processor": {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        # functions/processor -> shared::archive: every received body, one call per batch.
        "firehose:PutRecordBatch",
    },
    # functions/counters -> shared::counters, shared::store::counters: the ledger entry (PutItem
    # in a transaction, GetItem on a retry), campaign counters (UpdateItem), feed items (PutItem);
    # shared::breaker: the failing campaign and settings (GetItem), a blocked number's campaigns
    # (Query), holds, alerts and audit entries (UpdateItem, PutItem).
    "counters": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
    # functions/drift -> shared::recount, read only: routed tenants (Query on gsi1), campaigns
    # (Query), a campaign's counters (GetItem), its messages (Query on gsi2, BatchGetItem).
    "drift": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"},
    # functions/websocket -> shared::store::connections: $connect (PutItem), subscribe
    # (UpdateItem) and its reply (ManageConnections), $disconnect (DeleteItem).
    "websocket": {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "execute-api:ManageConnections",
    },
    # functions/realtime -> shared::realtime::push: the tenant's connections (Query on gsi1),
    # forgetting gone ones (DeleteItem), posting (ManageConnections).
    "realtime": {"dynamodb:Query", "dynamodb:DeleteItem", "execute-api:ManageConnections"},
    # functions/sse: the tenant's feed and connections (Query), the test event (PutItem), the
    # health check (DescribeTable).
    "sse": {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:DescribeTable"},
    # functions/template-sync -> shared::sync: routed WABAs (Query on gsi1), templates (GetItem,
    # PutItem, UpdateItem), a paused template's campaigns (Query on gsi2, BatchGetItem), the
    # tenants' Graph tokens (GetSecretValue).
    "template-sync": {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "secretsmanager:GetSecretValue",
    },
    # functions/notifier -> shared::notify: delivery records (GetItem, PutItem, UpdateItem), SNS,
    # Slack URLs (GetSecretValue), its dead-letter queue.
    "notifier": {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
        "sqs:SendMessage",
    },
    # functions/api: every route's reads and writes (GetItem, PutItem, Query, UpdateItem), a
    # campaign's messages and a template's campaigns (keys from gsi2, items by BatchGetItem), the
    # health check (DescribeTable), tenants' Graph tokens and Slack URLs (shared::secrets).
    "api": {
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    },
}

# Actions that cannot name a resource here, and the condition that must narrow them instead.
WILDCARD_RESOURCE_NEEDS_CONDITION = {"kms:GenerateDataKey", "kms:Decrypt"}


class NoManagedPolicies:
    """The template names no AWS managed policy by name; SAM's own are ARNs."""

    def load(self):
        return {}


def processed_template():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml_parse((ROOT / "infra" / "template.yaml").read_text())
    folders = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            code = resource["Properties"]["CodeUri"]
            folders[logical] = pathlib.PurePosixPath(code).name
            resource["Properties"]["CodeUri"] = f"s3://artifacts/{folders[logical]}.zip"
    parameters = {
        name: spec.get("Default")
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    parameters.update({"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                       "AWS::Partition": "aws", "AWS::StackName": "whatsapp-webhook"})
    return transform(copy.deepcopy(template), parameters, NoManagedPolicies()), folders


def as_list(x):
    return x if isinstance(x, list) else [x]


def check():
    processed, folders = processed_template()
    resources = processed["Resources"]
    failures = []
    workspace = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists())
    deployed = sorted(folders.values())
    if workspace != deployed:
        failures.append(f"workspace functions {workspace} != template functions {deployed}")

    for logical, folder in sorted(folders.items()):
        function = resources[logical]
        assert function["Type"] == "AWS::Lambda::Function", logical
        role_ref = function["Properties"]["Role"]["Fn::GetAtt"][0]
        role = resources[role_ref]["Properties"]
        actions = set()
        for policy in role.get("Policies", []):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                if statement.get("Effect") != "Allow":
                    continue
                for action in as_list(statement["Action"]):
                    if "*" in action:
                        failures.append(f"{folder}: wildcard action {action}")
                    actions.add(action)
                    for resource in as_list(statement["Resource"]):
                        if resource == "*" and not (
                            action in WILDCARD_RESOURCE_NEEDS_CONDITION and statement.get("Condition")
                        ):
                            failures.append(f"{folder}: {action} on every resource")
        expected = CODE_CALLS.get(folder, "missing")
        if expected == "missing":
            failures.append(f"{folder}: no entry in CODE_CALLS")
        elif actions != expected:
            failures.append(
                f"{folder}: template grants {sorted(actions - expected)} the code does not call, "
                f"and lacks {sorted(expected - actions)}"
            )
        print(f"{folder:<14} {len(actions):>2} actions: {', '.join(sorted(actions))}")
    failures += check_archive(resources)
    return failures


def check_archive(resources):
    """The archive writer (Firehose's role) may only put objects under the archive's prefixes;
    the bucket is encrypted, private, expires what it holds and refuses plain HTTP."""
    failures = []
    role = resources["ArchiveDeliveryRole"]["Properties"]
    for policy in role["Policies"]:
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            for action in as_list(statement["Action"]):
                resources_named = [str(r) for r in as_list(statement["Resource"])]
                if action in ("s3:PutObject", "s3:AbortMultipartUpload"):
                    if not all("/bodies/*" in r or "/errors/*" in r for r in resources_named):
                        failures.append(f"archive writer: {action} beyond its prefixes: {resources_named}")
                elif action not in ("s3:GetBucketLocation", "s3:ListBucketMultipartUploads"):
                    failures.append(f"archive writer: unexpected {action}")
    bucket = resources["ArchiveBucket"]["Properties"]
    if not bucket.get("BucketEncryption"):
        failures.append("archive bucket: not encrypted")
    if not all(bucket["PublicAccessBlockConfiguration"].values()):
        failures.append("archive bucket: public access not blocked")
    if not bucket["LifecycleConfiguration"]["Rules"][0].get("ExpirationInDays"):
        failures.append("archive bucket: nothing expires")
    denies = [s for s in as_list(resources["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"])
              if s["Effect"] == "Deny" and "aws:SecureTransport" in str(s.get("Condition"))]
    if not denies:
        failures.append("archive bucket: plain HTTP not denied")
    print(f"archive        writer puts only under bodies/ and errors/; bucket encrypted, private, expiring, TLS only")
    return failures


if __name__ == "__main__":
    failures = check()
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    sys.exit(1 if failures else 0)
