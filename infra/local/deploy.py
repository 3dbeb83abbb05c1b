#!/usr/bin/env python3
"""Deploys infra/template.yaml, unchanged, to the local AWS emulator (ministack) and closes the
emulator's known gaps after the deploy, without touching the template:

1. the Meta secret the template resolves (`MetaSecretName`) is created from infra/local/dev.env;
2. `sam deploy` with local parameters (the emulator's Cognito JWKS, a short visibility timeout);
3. HTTP APIs: the emulator ignores the OpenAPI `Body` SAM generates, so the routes, Lambda
   integrations and JWT authorizers are created from the processed template's `Body`;
4. DynamoDB `TimeToLiveSpecification` is applied with UpdateTimeToLive (ignored at create);
5. function variables holding an AWS-shaped URL (the WebSocket `@connections` endpoint, the
   dashboard's stream URLs) are pointed at the emulator's path form of the same API, stage or
   function URL, because `*.execute-api.*.amazonaws.com` and `*.on.aws` do not resolve here;
6. `.local/stack.env`: the stack's names and locally reachable URLs, and one `<Function>.env` per
   function with its deployed environment (for `cargo lambda watch`).

Every step is generic over the template: nothing here names a route, a function or a table.
"""
import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
from cfnlint.decode import decode as cfn_decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
DEV_ENV = ROOT / "infra" / "local" / "dev.env"


def log(msg):
    print(f"deploy: {msg}", file=sys.stderr, flush=True)


def read_env_file(path):
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def ensure_meta_secret(sm, name, dev):
    """The secret the template's dynamic references read, with the fixtures' values."""
    value = json.dumps(
        {"app_secrets": dev["META_APP_SECRETS"], "verify_token": dev["META_VERIFY_TOKEN"]}
    )
    try:
        sm.create_secret(Name=name, SecretString=value)
    except sm.exceptions.ResourceExistsException:
        sm.put_secret_value(SecretId=name, SecretString=value)


def sam_deploy(stack, endpoint, overrides):
    args = [
        "sam", "deploy",
        "--template-file", str(TEMPLATE),
        # sam reads infra/samconfig.toml (next to the template) by default; its `default`
        # environment is the AWS deploy (region, S3 prefix, parameters). An environment the file
        # does not have keeps every setting here on the command line.
        "--config-env", "local-stack",
        "--stack-name", stack,
        "--resolve-s3",
        "--capabilities", "CAPABILITY_IAM",
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
        "--no-progressbar",
        "--parameter-overrides", *[f"{k}={v}" for k, v in overrides.items()],
    ]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-6000:] + out.stderr[-6000:])
        raise SystemExit(f"sam deploy failed ({out.returncode})")


class Resolver:
    """Resolves the intrinsic functions a processed template leaves in an API `Body`."""

    def __init__(self, session, stack, resources):
        self.session = session
        self.physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
        self.types = {r["LogicalResourceId"]: r["ResourceType"] for r in resources}
        sts = session.client("sts")
        self.pseudo = {
            "AWS::Region": session.region_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
            "AWS::AccountId": sts.get_caller_identity()["Account"],
        }

    def attribute(self, logical, name):
        kind = self.types.get(logical)
        if kind == "AWS::Lambda::Function" and name == "Arn":
            fn = self.session.client("lambda").get_function(FunctionName=self.physical[logical])
            return fn["Configuration"]["FunctionArn"]
        raise SystemExit(f"deploy: cannot resolve {logical}.{name} ({kind})")

    def ref(self, name):
        if name in self.pseudo:
            return self.pseudo[name]
        if "." in name:
            return self.attribute(*name.split(".", 1))
        return self.physical[name]

    def __call__(self, value):
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return self.ref(value["Ref"])
            if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
                return re.sub(r"\$\{([^}!][^}]*)\}", lambda m: self.ref(m.group(1)), value["Fn::Sub"])
            if set(value) == {"Fn::GetAtt"}:
                logical, name = value["Fn::GetAtt"]
                return self.attribute(logical, name)
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def apply_http_api_bodies(session, template, resolve):
    """Routes, integrations and authorizers from each HTTP API's processed OpenAPI `Body`."""
    apigw = session.client("apigatewayv2")
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::ApiGatewayV2::Api" or "Body" not in resource["Properties"]:
            continue
        api_id = resolve.physical[logical]
        body = resolve(resource["Properties"]["Body"])
        if apigw.get_routes(ApiId=api_id).get("Items"):
            log(f"{logical}: routes exist, left as they are")
            continue
        authorizers = {}
        for name, scheme in body.get("components", {}).get("securitySchemes", {}).items():
            spec = scheme.get("x-amazon-apigateway-authorizer", {})
            if spec.get("type") != "jwt":
                continue
            config = spec["jwtConfiguration"]
            made = apigw.create_authorizer(
                ApiId=api_id,
                Name=name,
                AuthorizerType="JWT",
                IdentitySource=[spec["identitySource"]],
                JwtConfiguration={"Issuer": config["issuer"], "Audience": config["audience"]},
            )
            authorizers[name] = made["AuthorizerId"]
        integrations = {}
        routes = 0
        for path, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                spec = operation.get("x-amazon-apigateway-integration")
                if not spec:
                    continue
                key = (spec["uri"], spec.get("payloadFormatVersion", "2.0"))
                if key not in integrations:
                    integrations[key] = apigw.create_integration(
                        ApiId=api_id,
                        IntegrationType="AWS_PROXY",
                        IntegrationMethod="POST",
                        IntegrationUri=spec["uri"],
                        PayloadFormatVersion=key[1],
                    )["IntegrationId"]
                verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                route = {
                    "ApiId": api_id,
                    "RouteKey": f"{verb} {path}",
                    "Target": f"integrations/{integrations[key]}",
                }
                security = [name for req in operation.get("security", []) for name in req]
                jwt = [authorizers[n] for n in security if n in authorizers]
                if jwt:
                    route.update(AuthorizationType="JWT", AuthorizerId=jwt[0])
                apigw.create_route(**route)
                routes += 1
        log(f"{logical}: {routes} routes, {len(integrations)} integrations, {len(authorizers)} JWT authorizers")


def apply_ttl(session, template, resolve):
    ddb = session.client("dynamodb")
    for logical, resource in template["Resources"].items():
        spec = resource["Properties"].get("TimeToLiveSpecification") if resource["Type"] == "AWS::DynamoDB::Table" else None
        if spec and spec.get("Enabled"):
            ddb.update_time_to_live(
                TableName=resolve.physical[logical],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["AttributeName"]},
            )


# AWS-shaped URLs in function variables, and their local path forms on the emulator.
LOCAL_FORMS = [
    (re.compile(r"^https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com/([^/]+)/?$"),
     lambda m, e: f"{e}/_aws/execute-api/{m.group(1)}/{m.group(2)}"),
    (re.compile(r"^wss://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com/([^/]+)/?$"),
     lambda m, e: f"{e.replace('http://', 'ws://', 1)}/_aws/execute-api/{m.group(1)}/{m.group(2)}"),
    (re.compile(r"^https://([a-z0-9]+)\.lambda-url\.[a-z0-9-]+\.on\.aws/?$"),
     lambda m, e: f"{e}/_aws/lambda-url/{m.group(1)}/"),
]


def local_form(value, endpoint):
    for pattern, local in LOCAL_FORMS:
        m = pattern.match(value)
        if m:
            return local(m, endpoint)
    return value


def localise_function_urls(session, template, resolve, endpoint):
    lam = session.client("lambda")
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        function = resolve.physical[logical]
        variables = lam.get_function_configuration(FunctionName=function).get("Environment", {}).get("Variables", {})
        local = {k: local_form(v, endpoint) for k, v in variables.items()}
        if local != variables:
            lam.update_function_configuration(FunctionName=function, Environment={"Variables": local})
            log(f"{logical}: AWS URLs in its variables pointed at the emulator")


def dotenv_quote(value):
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


def write_state(session, stack, endpoint, template, resolve, out):
    """Names and local URLs for scripts and tests, and each function's deployed environment."""
    lam = session.client("lambda")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    }
    merged = {}
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "STACK_NAME": stack,
        "TABLE_NAME": outputs["TableName"],
        "WEBHOOK_QUEUE_URL": outputs["WebhookQueueUrl"],
        "WEBHOOK_DLQ_URL": outputs["WebhookDeadLetterQueueUrl"],
        "ALERTS_TOPIC_ARN": outputs["AlertsTopicArn"],
        "NOTIFIER_DLQ_URL": outputs["NotifierDeadLetterQueueUrl"],
        "TENANT_SECRETS_PREFIX": f"{stack}/tenants",
        "ARCHIVE_BUCKET_NAME": outputs["ArchiveBucketName"],
        "ARCHIVE_STREAM_NAME": outputs["ArchiveStreamName"],
    }
    for logical, resource in template["Resources"].items():
        kind = resource["Type"]
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", logical).upper()
        if kind == "AWS::Lambda::Function":
            function = resolve.physical[logical]
            env[f"{name}_NAME"] = function
            variables = lam.get_function_configuration(FunctionName=function).get("Environment", {}).get("Variables", {})
            (out / f"{logical}.env").write_text("".join(f"{k}={v}\n" for k, v in sorted(variables.items())))
            merged.update(variables)
        elif kind == "AWS::Lambda::Url":
            url = lam.get_function_url_config(FunctionName=resolve.physical[resource["Properties"]["TargetFunctionArn"]["Ref"]])["FunctionUrl"]
            url_id = url.split("//", 1)[1].split(".", 1)[0]
            # The emulator's path form needs no DNS for `*.lambda-url.*` host names.
            env[name] = f"{endpoint}/_aws/lambda-url/{url_id}/"
        elif kind == "AWS::ApiGatewayV2::Api":
            api_id = resolve.physical[logical]
            if resource["Properties"].get("ProtocolType") == "WEBSOCKET":
                stages = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"
                          and r["Properties"].get("ApiId") == {"Ref": logical}]
                stage = stages[0]["Properties"]["StageName"]
                host = endpoint.replace("http://", "ws://", 1)
                env[f"{name}_URL"] = f"{host}/_aws/execute-api/{api_id}/{stage}"
            else:
                env[f"{name}_URL"] = f"{endpoint}/_aws/execute-api/{api_id}/$default"
        elif kind in ("AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient"):
            env[f"{name}_ID"] = resolve.physical[logical]
    # Every function's variables in one dotenv file for `cargo lambda watch` (names do not clash
    # across functions), quoted: generated secrets may hold any punctuation.
    (out / "functions.dotenv").write_text("".join(f"{k}={dotenv_quote(v)}\n" for k, v in sorted(merged.items())))
    # Which deployed function each target/lambda/<folder> is (redeploy.py pushes by folder).
    source, _ = cfn_decode(str(TEMPLATE))
    folders = {
        Path(r["Properties"]["CodeUri"]).name: resolve.physical[logical]
        for logical, r in source["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function" and isinstance(r["Properties"].get("CodeUri"), str)
    }
    (out / "functions.json").write_text(json.dumps(folders, indent=1))
    (out / "stack.env").write_text("".join(f"{k}='{v}'\n" for k, v in env.items()))
    return env


def return_sign_in_to_dashboard(session, env):
    """The dashboard's address is the HTTP API's, known only once it is deployed (on AWS the
    SignInCallbackUrl parameter, set after the first deploy): point the app client's callback and
    sign-out URLs at the local one. UpdateUserPoolClient replaces every setting, so the client's
    own are sent back with them."""
    dashboard = f"{env['HTTP_API_URL']}/dashboard"
    idp = session.client("cognito-idp")
    client = idp.describe_user_pool_client(
        UserPoolId=env["USER_POOL_ID"], ClientId=env["USER_POOL_CLIENT_ID"])["UserPoolClient"]
    if client.get("CallbackURLs") == [dashboard]:
        return
    keep = ("ClientName", "RefreshTokenValidity", "AccessTokenValidity", "IdTokenValidity",
            "TokenValidityUnits", "ReadAttributes", "WriteAttributes", "ExplicitAuthFlows",
            "SupportedIdentityProviders", "AllowedOAuthFlows", "AllowedOAuthScopes",
            "AllowedOAuthFlowsUserPoolClient")
    idp.update_user_pool_client(
        UserPoolId=env["USER_POOL_ID"], ClientId=env["USER_POOL_CLIENT_ID"],
        CallbackURLs=[dashboard], LogoutURLs=[dashboard],
        **{k: client[k] for k in keep if client.get(k) not in (None, "", [], {})})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack", default="whatsapp-local")
    parser.add_argument("--out", type=Path, default=ROOT / ".local")
    parser.add_argument("--visibility-timeout", default="5")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    session = boto3.Session()
    dev = read_env_file(DEV_ENV)
    ensure_meta_secret(session.client("secretsmanager"), "whatsapp-webhook/meta", dev)
    sam_deploy(
        args.stack,
        args.endpoint,
        {
            "MetaSecretName": "whatsapp-webhook/meta",
            # The emulator serves each pool's keys at <endpoint>/<pool>/.well-known/jwks.json.
            "CognitoKeysBaseUrl": args.endpoint,
            # ... and its Hosted UI (/oauth2/authorize, /login, /oauth2/token) at its root.
            "SignInUrl": args.endpoint,
            # Its WebSocket API does not echo a subprotocol: browsers pass the token as ?token=.
            "WebSocketTokenIn": "query",
            # Failed records come back after seconds, not minutes.
            "QueueVisibilityTimeout": args.visibility_timeout,
            # The tests' Slack receivers listen on loopback, plain HTTP.
            "SlackWebhookUrlPrefixes": "http://127.0.0.1:",
        },
    )
    cf = session.client("cloudformation")
    template = cf.get_template(StackName=args.stack, TemplateStage="Processed")["TemplateBody"]
    if isinstance(template, str):
        template = json.loads(template)
    resources = cf.describe_stack_resources(StackName=args.stack)["StackResources"]
    resolve = Resolver(session, args.stack, resources)
    apply_http_api_bodies(session, template, resolve)
    apply_ttl(session, template, resolve)
    localise_function_urls(session, template, resolve, args.endpoint)
    env = write_state(session, args.stack, args.endpoint, template, resolve, args.out)
    return_sign_in_to_dashboard(session, env)
    for key in ("WEBHOOK_FUNCTION_URL", "HTTP_API_URL", "WEB_SOCKET_API_URL", "SSE_FUNCTION_URL"):
        log(f"{key}={env.get(key)}")


if __name__ == "__main__":
    main()
