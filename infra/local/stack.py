"""What the development scripts share: the deployed local stack (.local/stack.env, written by
infra/local/deploy.py), boto3 clients for the emulator, and Cognito ID tokens from it."""
import os
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
# A development-only password for the local user pool's users; never a real one.
DEV_PASSWORD = "Local-dev-password-1"


def env():
    """The local stack's names and URLs; running scripts may override them from the environment."""
    path = ROOT / ".local" / "stack.env"
    if not path.exists():
        raise SystemExit("no local stack: start one with `make dev`")
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip("'")
    return values


def client(service):
    return boto3.client(
        service,
        endpoint_url=env()["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def id_token(tenant, role):
    """An ID token of the emulator's Cognito for `<role>@<tenant>.example`, created on first use
    with the tenant and role as the custom attributes the API reads (users cannot write them)."""
    stack = env()
    idp = client("cognito-idp")
    pool, app = stack["USER_POOL_ID"], stack["USER_POOL_CLIENT_ID"]
    email = f"{role}@{tenant}.example".replace("_", "-")
    try:
        idp.admin_create_user(
            UserPoolId=pool,
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "custom:org_id", "Value": tenant},
                {"Name": "custom:role", "Value": role},
            ],
        )
        idp.admin_set_user_password(UserPoolId=pool, Username=email, Password=DEV_PASSWORD, Permanent=True)
    except idp.exceptions.UsernameExistsException:
        pass
    auth = idp.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=app,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": DEV_PASSWORD},
    )
    return auth["AuthenticationResult"]["IdToken"]
