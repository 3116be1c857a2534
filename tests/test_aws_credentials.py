"""The console's AWS credentials (users/iam/aws_session.py) against moto's in-process IAM and STS:
boto3's credential chain (environment, AWS_PROFILE, container, instance role) and the role that
IAM_ASSUME_ROLE_ARN names, assumed in another account and renewed before it expires.

moto maps an access key to its IAM user (GetCallerIdentity names the user) and an assumed
role's key to the role's account, so each test can tell whose credentials signed a call.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
from django.contrib.auth.models import User
from django.test import Client
from moto import mock_aws
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.sts import models as sts_models
from moto.sts.models import sts_backends

from users.iam.errors import IamUnavailable
from users.iam.gateway import IamGateway

OTHER_ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{OTHER_ACCOUNT}:role/console"
EXTERNAL_ID = "c0ns0le-external-id"
DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings) -> Iterator[None]:
    """moto's IAM and STS in-process, both accounts emptied; nothing in the credential chain
    (no keys in the environment, empty shared files, no instance or container credentials) and
    no region, until a test puts something there; clients built afresh."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.AWS_REGION = None
    settings.IAM_ENDPOINT_URL = None
    # moto leaves the environment's credentials alone: they are what is being tested.
    mock = mock_aws(config={"core": {"mock_credentials": False}})
    mock.start(reset=False)
    for account in (DEFAULT_ACCOUNT_ID, OTHER_ACCOUNT):
        iam_backends[account]["aws"].reset()
        sts_backends[account]["aws"].reset()
    IamGateway.forget_clients()
    try:
        yield
    finally:
        mock.stop(remove_data=False)
        IamGateway.forget_clients()


def admin(service: Literal["iam", "sts"]) -> Any:
    """A client of moto's default account, for setting a test up (not the console's)."""
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="admin", aws_secret_access_key="admin")


def user_with_key(name: str, policy: dict[str, Any] | None = None) -> tuple[str, str, str]:
    """An IAM user of the default account with an access key (and an inline policy): its ARN,
    key id and secret."""
    iam = admin("iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="console", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, key["AccessKeyId"], key["SecretAccessKey"]


def caller_arn() -> str:
    """Whom the console's clients are signed as: GetCallerIdentity through its STS client."""
    sts: Any = IamGateway.from_settings().clients[1]
    arn: str = sts.get_caller_identity()["Arn"]
    return arn


def signing_keys(client: Any) -> list[str]:
    """The access key id of each request `client` sends from now on (its Authorization header)."""
    keys: list[str] = []

    def record(request: Any, **kwargs: Any) -> None:
        authorization = request.headers["Authorization"].decode()
        keys.append(authorization.split("Credential=")[1].split("/")[0])

    client.meta.events.register("before-send", record)
    return keys


def credentials_json(key_id: str, secret: str) -> bytes:
    """Temporary credentials as the container and instance metadata services give them."""
    expiration = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=6)
    return json.dumps(
        {
            "Code": "Success",
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "Token": "session-token",
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ).encode()


@pytest.fixture
def metadata_server() -> Iterator[tuple[str, dict[str, bytes], list[tuple[str, str, str]]]]:
    """A local HTTP server answering GET/PUT `path` with `routes[path]` (404 otherwise): its
    URL, its routes, and the requests it got (method, path, Authorization header)."""
    routes: dict[str, bytes] = {}
    requests: list[tuple[str, str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            requests.append((self.command, self.path, self.headers.get("Authorization", "")))
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        do_GET = do_PUT = answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes, requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def moto_auth() -> Iterator[None]:
    """moto checks every request's signing key and IAM policies, as AWS does."""
    count, requests = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = 0, 0
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = count, requests


def assume_role(settings) -> None:
    settings.IAM_ASSUME_ROLE_ARN = ROLE_ARN
    settings.IAM_ASSUME_ROLE_EXTERNAL_ID = EXTERNAL_ID


def assumed_roles() -> list[sts_models.AssumedRole]:
    """Each time moto's STS gave out credentials for `ROLE_ARN`, in order."""
    return [role for role in sts_backends[OTHER_ACCOUNT]["aws"].assumed_roles if role.role_arn == ROLE_ARN]


# --- the credential chain ------------------------------------------------------------------


def test_it_signs_with_the_environment_s_access_key(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    arn, key_id, secret = user_with_key("console")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)

    assert caller_arn() == arn == f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/console"


def test_it_signs_with_aws_profile_s_key_and_takes_its_region(
    aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, default_key, default_secret = user_with_key("someone-else")
    arn, key_id, secret = user_with_key("console")
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = {default_key}\naws_secret_access_key = {default_secret}\n"
        f"[console]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    )
    (tmp_path / "config").write_text("[default]\nregion = us-west-2\n[profile console]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_PROFILE", "console")

    assert caller_arn() == arn
    assert IamGateway.from_settings().clients[1].meta.region_name == "eu-west-1"  # IAM's is aws-global


def test_an_explicit_region_wins_over_the_profile_s(
    aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings
) -> None:
    (tmp_path / "config").write_text("[profile console]\nregion = eu-west-1\n")
    (tmp_path / "credentials").write_text("[console]\naws_access_key_id = a\naws_secret_access_key = b\n")
    monkeypatch.setenv("AWS_PROFILE", "console")
    settings.AWS_REGION = "ap-southeast-2"

    assert IamGateway.from_settings().clients[1].meta.region_name == "ap-southeast-2"


def test_without_any_region_it_uses_us_east_1(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")

    assert IamGateway.from_settings().clients[1].meta.region_name == "us-east-1"


def test_a_missing_profile_makes_iam_unavailable_not_a_server_error(
    aws: None, monkeypatch: pytest.MonkeyPatch, operator_client: Client
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")

    with pytest.raises(IamUnavailable) as caught:
        IamGateway.from_settings()
    assert caught.value.code == "NoCredentials"
    assert "no-such-profile" in str(caught.value)
    with pytest.raises(IamUnavailable):
        IamGateway.check_reachable(2)

    response = operator_client.get("/users/")
    assert response.status_code == 503
    assert b"no-such-profile" in response.content


def test_it_signs_with_container_credentials(
    aws: None, monkeypatch: pytest.MonkeyPatch, metadata_server: tuple[str, dict[str, bytes], list[Any]]
) -> None:
    url, routes, requests = metadata_server
    arn, key_id, secret = user_with_key("task-role")
    routes["/v2/credentials/task"] = credentials_json(key_id, secret)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{url}/v2/credentials/task")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token")

    assert caller_arn() == arn
    assert ("GET", "/v2/credentials/task", "container-token") in requests


def test_it_signs_with_the_instance_role(
    aws: None, monkeypatch: pytest.MonkeyPatch, metadata_server: tuple[str, dict[str, bytes], list[Any]]
) -> None:
    url, routes, requests = metadata_server
    arn, key_id, secret = user_with_key("instance-role")
    routes["/latest/api/token"] = b"imds-token"  # IMDSv2
    routes["/latest/meta-data/iam/security-credentials/"] = b"console-instance"
    routes["/latest/meta-data/iam/security-credentials/console-instance"] = credentials_json(key_id, secret)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url + "/")

    assert caller_arn() == arn
    assert ("PUT", "/latest/api/token", "") in requests


# --- the assumed role ------------------------------------------------------------------------


def test_it_works_in_the_role_s_account(aws: None, monkeypatch: pytest.MonkeyPatch, settings, operator: User) -> None:
    _, key_id, secret = user_with_key("console")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    assume_role(settings)

    assert caller_arn() == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/console/iam-console"
    gateway = IamGateway.from_settings(operator=operator)
    gateway.create_user("bob")
    assert gateway.account_info().account_id == OTHER_ACCOUNT
    IamGateway.check_reachable(2)  # the readiness probe signs as the role too
    assert "bob" in iam_backends[OTHER_ACCOUNT]["aws"].users
    assert "bob" not in iam_backends[DEFAULT_ACCOUNT_ID]["aws"].users
    # Assumed once for the process: every client and the probe share the role's credentials.
    [assumed] = assumed_roles()
    assert (assumed.role_arn, assumed.session_name, assumed.external_id) == (ROLE_ARN, "iam-console", EXTERNAL_ID)


def test_it_names_its_session_and_sends_no_external_id_unless_set(
    aws: None, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    settings.IAM_ASSUME_ROLE_ARN = ROLE_ARN
    settings.IAM_ASSUME_ROLE_SESSION_NAME = "console-prod"
    settings.IAM_ASSUME_ROLE_DURATION = 7200

    assert caller_arn() == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/console/console-prod"
    [assumed] = assumed_roles()
    assert assumed.external_id is None
    remaining = assumed.expiration - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert datetime.timedelta(minutes=119) < remaining <= datetime.timedelta(hours=2)


def role_in_the_other_account() -> None:
    """The role `ROLE_ARN`: trusting the default account, with docs/aws-iam-policy.json."""
    setup = admin("sts").assume_role(RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/setup", RoleSessionName="setup")
    credentials = setup["Credentials"]
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    iam.create_role(RoleName="console", AssumeRolePolicyDocument=json.dumps(trust))
    policy = (DOCS / "aws-iam-policy.json").read_text()
    iam.put_role_policy(RoleName="console", PolicyName="iam-console", PolicyDocument=policy)


MAY_ASSUME_THE_ROLE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}],
}


def test_the_chain_s_identity_needs_only_sts_assume_role_and_the_role_only_the_documented_policy(
    aws: None, monkeypatch: pytest.MonkeyPatch, settings, operator: User
) -> None:
    """With moto checking every request's key and policies: the base identity may only assume
    the role, the role has docs/aws-iam-policy.json (which need not allow sts:AssumeRole)."""
    role_in_the_other_account()
    _, key_id, secret = user_with_key("console", MAY_ASSUME_THE_ROLE)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    assume_role(settings)

    with moto_auth():
        gateway = IamGateway.from_settings(operator=operator)
        gateway.create_user("bob")
        assert [user.name for user in gateway.list_users()] == ["bob"]
        assert gateway.account_info().account_id == OTHER_ACCOUNT
        IamGateway.check_reachable(2)
    assert len(assumed_roles()) == 1


def test_a_role_that_cannot_be_assumed_makes_iam_unavailable(
    aws: None, monkeypatch: pytest.MonkeyPatch, settings, operator: User, operator_client: Client
) -> None:
    role_in_the_other_account()
    _, key_id, secret = user_with_key("console")  # no sts:AssumeRole
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    assume_role(settings)

    with moto_auth():
        with pytest.raises(IamUnavailable) as caught:
            IamGateway.from_settings(operator=operator).create_user("bob")
        with pytest.raises(IamUnavailable):
            IamGateway.check_reachable(2)  # /health/ reports IAM down
        response = operator_client.get("/users/")

    assert caught.value.code == "NoCredentials"
    assert caught.value.operation == "CreateUser"
    assert f"AssumeRole of {ROLE_ARN}" in str(caught.value)
    assert "not authorized to perform: sts:AssumeRole" in str(caught.value)
    assert response.status_code == 503
    assert f"AssumeRole of {ROLE_ARN}".encode() in response.content
    assert "bob" not in iam_backends[OTHER_ACCOUNT]["aws"].users


def test_a_role_without_any_credentials_to_assume_it_makes_iam_unavailable(aws: None, settings) -> None:
    assume_role(settings)

    with pytest.raises(IamUnavailable) as caught:
        IamGateway.from_settings().get_password_policy()
    assert caught.value.code == "NoCredentials"
    assert assumed_roles() == []


@pytest.mark.parametrize("minutes_left", [5, 12], ids=["mandatory-refresh", "advisory-refresh"])
def test_it_assumes_the_role_again_before_its_credentials_expire(
    aws: None, monkeypatch: pytest.MonkeyPatch, settings, minutes_left: int
) -> None:
    """botocore renews credentials with less than 15 minutes left (before the call when less
    than 10): moto issues the first ones as if all but `minutes_left` of their hour had passed."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    assume_role(settings)
    monkeypatch.setattr(sts_models, "utcnow", lambda: utcnow() - datetime.timedelta(minutes=60 - minutes_left))
    gateway = IamGateway.from_settings()
    keys = signing_keys(gateway.clients[0])

    gateway.get_password_policy()
    monkeypatch.setattr(sts_models, "utcnow", utcnow)
    gateway.get_password_policy()
    gateway.get_password_policy()

    first, second = assumed_roles()
    assert keys == [first.access_key_id, second.access_key_id, second.access_key_id]
    assert first.access_key_id != second.access_key_id


def test_another_role_is_another_account_for_the_cache(
    aws: None, monkeypatch: pytest.MonkeyPatch, settings, db: None
) -> None:
    """The account banner and the users index are cached per role: after a switch to another
    account's role, the console shows that account at once, not the previous one's."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    assume_role(settings)
    first = IamGateway.from_settings()
    first.create_user("in-the-first-account")
    assert (first.cached_account_info().account_id, [u.name for u in first.list_users()]) == (
        OTHER_ACCOUNT,
        ["in-the-first-account"],
    )

    settings.IAM_ASSUME_ROLE_ARN = "arn:aws:iam::222222222222:role/console"
    iam_backends["222222222222"]["aws"].reset()
    second = IamGateway.from_settings()
    assert (second.cached_account_info().account_id, second.list_users()) == ("222222222222", [])
