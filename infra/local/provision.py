#!/usr/bin/env python3
"""Creates infra/template.yaml's tables and queues on the local AWS endpoint, and writes each
function's environment as the template defines it, resolved against what was created.

    provision.py --endpoint http://127.0.0.1:PORT --out .local

writes .local/<FunctionLogicalId>.env (KEY=VALUE lines) and .local/stack.json (resource name ->
local name/URL/ARN). The template is the one source of truth: nothing here names a table, a key
or a queue; `test_provision.py` fails when what exists locally differs from the template.
Secrets (Secrets Manager dynamic references) take the development values from dev.env.
"""
import argparse
import json
import os
import re
import sys
from pathlib import Path

import boto3
from cfnlint.decode import decode

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


def load_template(path=TEMPLATE):
    template, errors = decode(str(path))
    if errors:
        raise SystemExit(f"cannot read {path}: {errors}")
    return template


def parameter_defaults(template):
    return {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}


def dev_values():
    values = {}
    for line in (HERE / "dev.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


class Stack:
    """Resolves !Ref / !GetAtt / !Sub against locally created resources."""

    def __init__(self, template, endpoint, prefix):
        self.template = template
        self.prefix = prefix
        self.params = parameter_defaults(template)
        self.physical = {}  # logical id -> {"Ref": ..., "Arn": ..., ...}
        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION
        )
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.ddb = session.client("dynamodb", endpoint_url=endpoint)

    def resources(self, kind):
        for logical, res in self.template["Resources"].items():
            if res["Type"] == kind:
                yield logical, res.get("Properties", {})

    def resolve(self, value):
        if isinstance(value, dict) and len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                if arg in self.params:
                    return self.params[arg]
                return self.physical[arg]["Ref"]
            if fn == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.physical[logical][attr]
            if fn == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self.resolve({"Ref": m.group(1)})), text)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def create_queues(self):
        # Queues that others point to (dead-letter targets) first.
        queues = dict(self.resources("AWS::SQS::Queue"))
        order = sorted(queues, key=lambda q: "RedrivePolicy" in queues[q])
        for logical in order:
            props = queues[logical]
            name = self.prefix + logical
            attributes = {}
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "MaximumMessageSize",
                        "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
                if key in props:
                    attributes[key] = str(self.resolve(props[key]))
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(self.resolve(props["RedrivePolicy"]))
            url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            self.physical[logical] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    def create_tables(self):
        for logical, props in self.resources("AWS::DynamoDB::Table"):
            name = self.prefix + logical
            args = {
                "TableName": name,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PROVISIONED"),
            }
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if props.get("LocalSecondaryIndexes"):
                args["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
            if props.get("StreamSpecification"):
                args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            desc = self.ddb.create_table(**args)["TableDescription"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                self.ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"], "Enabled": True})
            self.physical[logical] = {"Ref": name, "Arn": desc["TableArn"],
                                      "StreamArn": desc.get("LatestStreamArn", "")}

    def function_env(self, dev):
        """Each function's Environment.Variables, resolved; Secrets Manager references -> dev.env."""
        globals_env = (self.template.get("Globals", {}).get("Function", {})
                       .get("Environment", {}).get("Variables", {}))
        out = {}
        for logical, props in self.resources("AWS::Serverless::Function"):
            variables = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
            env = {}
            for key, value in variables.items():
                # dev.env stands in for what has no local twin: secrets, the identity provider.
                # An empty value there leaves the variable out.
                if key in dev:
                    if dev[key]:
                        env[key] = dev[key]
                    continue
                try:
                    resolved = str(self.resolve(value))
                except KeyError as missing:
                    raise SystemExit(f"{logical}.{key} refers to {missing}, which has no local twin: give it a value in dev.env")
                if "{{resolve:" in resolved:
                    raise SystemExit(f"{logical}.{key} is a secret reference: give it a value in dev.env")
                env[key] = resolved
            out[logical] = env
        # dev.env keys no function declares are local-only settings (e.g. the HS256 secret
        # that stands in for Cognito): every function gets them.
        declared = {k for env in out.values() for k in env} | {
            k for _, props in self.resources("AWS::Serverless::Function")
            for k in props.get("Environment", {}).get("Variables", {})}
        for env in out.values():
            env.update({k: v for k, v in dev.items() if v and k not in declared})
        return out


def provision(endpoint, out_dir, prefix=""):
    stack = Stack(load_template(), endpoint, prefix)
    stack.create_queues()
    stack.create_tables()
    envs = stack.function_env(dev_values())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for logical, env in envs.items():
        (out / f"{logical}.env").write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
    (out / "stack.json").write_text(json.dumps(stack.physical, indent=2, sort_keys=True))
    return stack


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), required=False)
    parser.add_argument("--out", default=".local")
    parser.add_argument("--prefix", default="", help="prefix for every local resource name")
    args = parser.parse_args()
    if not args.endpoint:
        sys.exit("--endpoint or AWS_ENDPOINT_URL is required")
    stack = provision(args.endpoint, args.out, args.prefix)
    for logical, names in sorted(stack.physical.items()):
        print(f"{logical}: {names['Ref']}")


if __name__ == "__main__":
    main()
