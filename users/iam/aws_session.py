"""The boto3 clients behind `IamGateway`, and the credentials they sign with.

The credentials are boto3's own chain, left to work as documented: environment variables,
AWS_PROFILE and the shared files (SSO profiles included), container credentials, the instance
role. With IAM_ASSUME_ROLE_ARN, that identity only calls STS AssumeRole, and every client signs
with the role's temporary credentials, which botocore renews before they expire: at the first
call less than 15 minutes before (a call goes on with the old ones if STS fails), and less than
10 minutes before, no call goes without new ones. Sessions and clients are built once per
process and configuration; failing to obtain credentials is an `IamUnavailable`, whether it
happens when the clients are built or at a call.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigParseError,
    CredentialRetrievalError,
    InvalidConfigError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)
from botocore.utils import parse_timestamp
from django.conf import settings

from users.iam.errors import IamUnavailable

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

# IAM, STS (no STS stubs installed: a plain BaseClient) and IAM again, for CreateAccessKey.
Clients: TypeAlias = "tuple[IAMClient, BaseClient, IAMClient]"

# What botocore raises when it cannot get credentials: at a call, or when a client is built.
CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,  # container, instance, process credentials, the role to assume
    ProfileNotFound,
    ConfigParseError,
    InvalidConfigError,
    SSOError,  # e.g. the SSO session expired: `aws sso login` again
    TokenRetrievalError,
)
DEFAULT_REGION = "us-east-1"

_SESSIONS: dict[tuple[Any, ...], boto3.session.Session] = {}
_CLIENTS: dict[tuple[Any, ...], Clients] = {}
_PROBES: dict[tuple[Any, ...], IAMClient] = {}
# boto3 sessions are not thread-safe: sessions and their clients are built under it.
_LOCK = threading.Lock()


def unavailable(error: Exception, operation: str = "") -> IamUnavailable:
    """The console's error for one of `CREDENTIAL_ERRORS`."""
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        message = "No usable AWS credentials were found for IAM."
    else:
        message = f"The console's AWS credentials cannot be obtained: {error}"
    return IamUnavailable("NoCredentials", message, operation=operation)


def _config(attempts: int, connect_timeout: float, read_timeout: float) -> Config:
    # `total_max_attempts` counts the first attempt; in a Config, `max_attempts` counts
    # retries only (max_attempts=1 would still send CreateAccessKey twice).
    return Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # A worker process's item threads share the clients: one connection each, at least.
        max_pool_connections=max(10, settings.JOB_ITEM_THREADS),
    )


def clients() -> Clients:
    """The gateway's clients on the configured IAM, with the configured retries and timeouts."""
    timeouts = (settings.IAM_CONNECT_TIMEOUT, settings.IAM_READ_TIMEOUT)
    with _LOCK:
        key = (*_session_key(), settings.IAM_MAX_ATTEMPTS, *timeouts)
        if key not in _CLIENTS:
            session, region = _session()
            config = _config(settings.IAM_MAX_ATTEMPTS, *timeouts)
            # CreateAccessKey is not idempotent: the SDK must never resend it (RELIABILITY.md §2.2).
            once = _config(1, *timeouts)
            endpoint = settings.IAM_ENDPOINT_URL
            try:
                iam = session.client("iam", endpoint_url=endpoint, region_name=region, config=config)
                sts: BaseClient = session.client("sts", endpoint_url=endpoint, region_name=region, config=config)
                key_client = session.client("iam", endpoint_url=endpoint, region_name=region, config=once)
            except CREDENTIAL_ERRORS as error:
                raise unavailable(error) from None
            _CLIENTS[key] = (iam, sts, key_client)
        return _CLIENTS[key]


def probe_client(timeout: float) -> IAMClient:
    """The readiness check's IAM client: one attempt, `timeout` to connect and to read."""
    with _LOCK:
        key = (*_session_key(), timeout)
        if key not in _PROBES:
            session, region = _session()
            config = _config(1, timeout, timeout)
            try:
                _PROBES[key] = session.client(
                    "iam", endpoint_url=settings.IAM_ENDPOINT_URL, region_name=region, config=config
                )
            except CREDENTIAL_ERRORS as error:
                raise unavailable(error) from None
        return _PROBES[key]


def forget() -> None:
    """Drop the sessions and clients, so that the next ones are built anew (tests)."""
    with _LOCK:
        _SESSIONS.clear()
        _CLIENTS.clear()
        _PROBES.clear()


def _session_key() -> tuple[Any, ...]:
    return (
        settings.IAM_ENDPOINT_URL,
        settings.AWS_REGION,
        settings.IAM_ASSUME_ROLE_ARN,
        settings.IAM_ASSUME_ROLE_EXTERNAL_ID,
        settings.IAM_ASSUME_ROLE_SESSION_NAME,
        settings.IAM_ASSUME_ROLE_DURATION,
    )


def _session() -> tuple[boto3.session.Session, str]:
    """The configured session and its region (under `_LOCK`)."""
    key = _session_key()
    if key not in _SESSIONS:
        try:
            session = _chain_session(settings.IAM_ENDPOINT_URL, settings.AWS_REGION)
            if settings.IAM_ASSUME_ROLE_ARN:
                session = _role_session(session, settings.IAM_ASSUME_ROLE_ARN, settings.IAM_ENDPOINT_URL)
        except CREDENTIAL_ERRORS as error:
            raise unavailable(error) from None
        # boto3 keeps its botocore session private; its parser factory is botocore's documented one.
        parsers = session._session.get_component("response_parser_factory")
        parsers.set_parser_defaults(timestamp_parser=_timestamp)
        _SESSIONS[key] = session
    session = _SESSIONS[key]
    return session, session.region_name or DEFAULT_REGION


def _timestamp(value: str) -> datetime:
    """A timestamp of IAM's answers (ISO 8601, "2026-12-05T10:04:06Z"), parsed by the standard
    library; botocore's own parser (dateutil's) for anything else. dateutil cost a twentieth of
    a job worker's CPU (docs/PERFORMANCE.md)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)
    return parsed if parsed.tzinfo else parse_timestamp(value)


def _chain_session(endpoint: str | None, region: str | None) -> boto3.session.Session:
    """A session on the standard credential chain. For an endpoint (moto, LocalStack: they
    accept any credentials) with nothing in the chain, dummy credentials."""
    session = boto3.session.Session(region_name=region)
    if endpoint and session.get_credentials() is None:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
    return session


class _Given(CredentialProvider):
    """A credential chain of one link: the role's credentials."""

    METHOD = CANONICAL_NAME = "iam-console-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def _role_session(base: boto3.session.Session, role_arn: str, endpoint: str | None) -> boto3.session.Session:
    """A session signing with `role_arn`'s credentials, which `base`'s identity assumes at
    the first call and again before they expire. STS at `endpoint` if any."""
    region = base.region_name or DEFAULT_REGION
    source = base.get_credentials()
    sts_config = _config(settings.IAM_MAX_ATTEMPTS, settings.IAM_CONNECT_TIMEOUT, settings.IAM_READ_TIMEOUT)

    def sts_client(
        _service: str, aws_access_key_id: str, aws_secret_access_key: str, aws_session_token: str | None
    ) -> BaseClient:
        # Called by the fetcher, with `source`'s credentials, under the role credentials'
        # refresh lock: one at a time.
        client: BaseClient = base.client(
            "sts",
            endpoint_url=endpoint,
            region_name=region,
            config=sts_config,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
        )
        return client

    assume_role: dict[str, Any] = {
        "RoleSessionName": settings.IAM_ASSUME_ROLE_SESSION_NAME,
        "DurationSeconds": settings.IAM_ASSUME_ROLE_DURATION,
    }
    if settings.IAM_ASSUME_ROLE_EXTERNAL_ID:
        assume_role["ExternalId"] = settings.IAM_ASSUME_ROLE_EXTERNAL_ID
    fetcher = AssumeRoleCredentialFetcher(sts_client, source, role_arn, extra_args=assume_role)

    def fetch() -> dict[str, Any]:
        if source is None:
            raise NoCredentialsError()
        try:
            return fetcher.fetch_credentials()
        except (ClientError, BotoCoreError) as error:
            # Not the ClientError of the IAM call being signed: the role could not be assumed.
            raise CredentialRetrievalError(provider=f"AssumeRole of {role_arn}", error_msg=str(error)) from None

    credentials = DeferredRefreshableCredentials(fetch, method="assume-role")
    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([_Given(credentials)]))
    return boto3.session.Session(botocore_session=core, region_name=region)
