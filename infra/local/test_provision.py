#!/usr/bin/env python3
"""Drift check: what provision.py creates on the local endpoint must match infra/template.yaml.

Run with AWS_ENDPOINT_URL pointing at the local endpoint (make test does this).
"""
import json
import os
import tempfile
import unittest
import uuid

import provision

# Resource types the local stack reproduces, or that have no local counterpart and need none
# (IAM, API routes, function URLs are exercised through the functions themselves). A new type in
# the template fails this check until local provisioning handles it or it is listed here.
PROVISIONED = {"AWS::DynamoDB::Table", "AWS::SQS::Queue"}
NOT_LOCAL = {"AWS::Serverless::Function", "AWS::Serverless::HttpApi", "AWS::Serverless::Api",
             "AWS::Lambda::Permission", "AWS::Lambda::Url", "AWS::IAM::Role",
             # Stood in for by infra/local/dev.env (HS256 tokens, a fixed cursor key).
             "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::SecretsManager::Secret"}


class TemplateMatchesLocalStack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if not endpoint:
            raise unittest.SkipTest("AWS_ENDPOINT_URL is not set (run through make test)")
        cls.out = tempfile.mkdtemp()
        cls.template = provision.load_template()
        cls.stack = provision.provision(endpoint, cls.out, prefix=f"drift{uuid.uuid4().hex[:8]}-")

    def test_every_resource_type_is_provisioned_or_known_to_need_no_local_twin(self):
        types = {r["Type"] for r in self.template["Resources"].values()}
        self.assertEqual(types - PROVISIONED - NOT_LOCAL, set())

    def test_tables_match_keys_indexes_stream_and_ttl(self):
        ddb = self.stack.ddb
        for logical, props in self.stack.resources("AWS::DynamoDB::Table"):
            name = self.stack.physical[logical]["Ref"]
            table = ddb.describe_table(TableName=name)["Table"]
            self.assertEqual(table["KeySchema"], props["KeySchema"], logical)
            self.assertCountEqual(table["AttributeDefinitions"], props["AttributeDefinitions"], logical)
            self.assertEqual(table["BillingModeSummary"]["BillingMode"], props["BillingMode"], logical)
            want_gsis = {g["IndexName"]: g for g in props.get("GlobalSecondaryIndexes", [])}
            have_gsis = {g["IndexName"]: g for g in table.get("GlobalSecondaryIndexes", [])}
            self.assertEqual(set(have_gsis), set(want_gsis), logical)
            for index, want in want_gsis.items():
                self.assertEqual(have_gsis[index]["KeySchema"], want["KeySchema"], index)
                self.assertEqual(have_gsis[index]["Projection"]["ProjectionType"],
                                 want["Projection"]["ProjectionType"], index)
            stream = props.get("StreamSpecification")
            if stream:
                self.assertTrue(table["StreamSpecification"]["StreamEnabled"], logical)
                self.assertEqual(table["StreamSpecification"]["StreamViewType"],
                                 stream["StreamViewType"], logical)
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                desc = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
                self.assertEqual(desc["AttributeName"], ttl["AttributeName"], logical)
                self.assertEqual(desc["TimeToLiveStatus"], "ENABLED", logical)

    def test_queues_match_timeouts_sizes_and_redrive(self):
        sqs = self.stack.sqs
        for logical, props in self.stack.resources("AWS::SQS::Queue"):
            url = self.stack.physical[logical]["Ref"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "MaximumMessageSize"):
                if key in props:
                    self.assertEqual(attrs[key], str(self.stack.resolve(props[key])), f"{logical}.{key}")
            if "RedrivePolicy" in props:
                want = props["RedrivePolicy"]
                have = json.loads(attrs["RedrivePolicy"])
                self.assertEqual(int(have["maxReceiveCount"]), int(want["maxReceiveCount"]), logical)
                target = want["deadLetterTargetArn"]["Fn::GetAtt"]
                target = target[0] if isinstance(target, list) else target.split(".")[0]
                self.assertEqual(have["deadLetterTargetArn"], self.stack.physical[target]["Arn"], logical)
            else:
                self.assertNotIn("RedrivePolicy", attrs, logical)

    def test_every_function_variable_resolves_to_a_local_value(self):
        for logical, _ in self.stack.resources("AWS::Serverless::Function"):
            env_file = os.path.join(self.out, f"{logical}.env")
            lines = open(env_file).read().splitlines()
            self.assertTrue(lines, logical)
            for line in lines:
                key, _, value = line.partition("=")
                self.assertTrue(value, f"{logical}.{key} is empty")
                self.assertNotIn("{{resolve:", value, f"{logical}.{key}")


if __name__ == "__main__":
    unittest.main()
