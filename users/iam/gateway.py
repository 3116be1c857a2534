"""The IAM gateway: the one class that talks to IAM (and STS), through boto3.

Views, forms and tasks call `IamGateway`. Its methods take and return plain Python values
(the frozen dataclasses of users/iam/types.py, lists, dicts of str), raise the `IamError`
subclasses of users/iam/errors.py instead of botocore exceptions, and audit every mutating
call, successful or not (RELIABILITY.md §0.10). Those two modules import no boto3, so code
that only needs a result type or an error does not load the SDK.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from botocore import xform_name
from botocore.client import BaseClient
from botocore.exceptions import ClientError, HTTPClientError, ParamValidationError
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)
from botocore.parsers import ResponseParserError
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from iamconsole.cache_outage import tolerant_cache as cache  # a miss while Redis is down
from users import audit
from users.iam import aws_session, rate_limit, read_pool
from users.iam.access_advisor import AccessAdvisorVerbs
from users.iam.account_verbs import AccountVerbs
from users.iam.aws_session import CREDENTIAL_ERRORS
from users.iam.counter import CALLS
from users.iam.errors import (
    AccessDenied,
    ConcurrentModification,
    CredentialReportNotReady,
    DeleteConflict,
    EntityAlreadyExists,
    IamError,
    IamUnavailable,
    InvalidInput,
    InvalidPublicKey,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
    PasswordPolicyViolation,
    PolicyNotAttachable,
    ReadOnlyConsole,
    ServiceFailure,
    Throttled,
    UnmodifiableEntity,
)
from users.iam.security_credentials import SecurityCredentialVerbs
from users.iam.types import (
    AccessKey,
    AccessKeyLastUsed,
    AccountInfo,
    AttachedPolicy,
    CredentialReport,
    Group,
    GroupSummary,
    IamUser,
    InlinePolicy,
    LoginProfile,
    NewAccessKey,
    PasswordPolicy,
    Policy,
    PolicyEntities,
    UserSummary,
    as_utc,
    parse_credential_report,
)
from users.iam.user_export import UserExportVerbs
from users.models import AuditEvent

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User
    from mypy_boto3_iam import IAMClient

log = logging.getLogger(__name__)
T = TypeVar("T")

# The calls that change IAM: each writes one audit row, whatever its outcome (IAM_READ_ONLY refuses them).
MUTATING = frozenset(
    """
    CreateUser DeleteUser TagUser UntagUser PutUserPermissionsBoundary DeleteUserPermissionsBoundary
    CreateLoginProfile UpdateLoginProfile DeleteLoginProfile
    CreateAccessKey UpdateAccessKey DeleteAccessKey
    UploadSSHPublicKey UpdateSSHPublicKey UpdateSigningCertificate UpdateServiceSpecificCredential
    UploadSigningCertificate
    DeleteSSHPublicKey DeleteSigningCertificate DeleteServiceSpecificCredential
    CreateVirtualMFADevice EnableMFADevice DeactivateMFADevice DeleteVirtualMFADevice ResyncMFADevice
    CreateServiceSpecificCredential ResetServiceSpecificCredential
    AttachUserPolicy DetachUserPolicy PutUserPolicy DeleteUserPolicy
    CreateGroup AddUserToGroup RemoveUserFromGroup AttachGroupPolicy
    DeleteGroup DetachGroupPolicy DeleteGroupPolicy
    UpdateAccountPasswordPolicy DeleteAccountPasswordPolicy CreateAccountAlias DeleteAccountAlias
    """.split()
)
SECRET_PARAMETERS = frozenset({"Password", "NewPassword", "OldPassword", "AuthenticationCode1", "AuthenticationCode2"})
PAGE_SIZE = 1000  # IAM's maximum MaxItems: a page per 1,000 users, not per 100
# The users, groups and policies indexes are cached this long; any change made through the
# console starts new ones at once, changes made elsewhere show up within this time (or on Refresh).
CACHE_SECONDS = 60
# A running job's changes make those indexes stale only once they are this old: an import would
# otherwise start new ones with every user it creates, and every users-list request would read
# the whole index from IAM again, in every process (docs/PERFORMANCE.md, the load test). The
# users list shows a job's users this late at most; the job's own page shows them at once.
JOB_CHANGE_LAG_SECONDS = 10
# How long one background refresh of an index that a job made stale may hold it (its read's bound).
REFRESH_HOLD_SECONDS = 30
# The account id and alias, shown in every page's frame.
ACCOUNT_CACHE_SECONDS = 300
# IAM never changes a managed policy's description, so it is cached far longer.
DESCRIPTION_CACHE_SECONDS = 24 * 60 * 60
# GenerateCredentialReport may answer STARTED or INPROGRESS: ask this many times, this far
# apart, before the page shows its credential columns as not ready yet.
REPORT_POLLS = 5
REPORT_POLL_SECONDS = 0.25
# What an audit row names as the target, in order of preference (else "account").
TARGET_PARAMETERS = ("UserName", "GroupName", "AccountAlias", "SerialNumber")


_ERROR_CLASSES: dict[str, type[IamError]] = {
    "EntityAlreadyExists": EntityAlreadyExists,
    "NoSuchEntity": NoSuchEntity,
    "LimitExceeded": LimitExceeded,
    "PasswordPolicyViolation": PasswordPolicyViolation,
    "MalformedPolicyDocument": MalformedPolicyDocument,
    "AccessDenied": AccessDenied,
    "AccessDeniedException": AccessDenied,
    "UnauthorizedOperation": AccessDenied,
    "Throttling": Throttled,
    "ThrottlingException": Throttled,
    "RequestLimitExceeded": Throttled,
    "InvalidInput": InvalidInput,
    "ValidationError": InvalidInput,
    "DeleteConflict": DeleteConflict,
    "ConcurrentModification": ConcurrentModification,
    "ServiceFailure": ServiceFailure,
    "ServiceUnavailable": ServiceFailure,
    "InternalFailure": ServiceFailure,
    "PolicyNotAttachable": PolicyNotAttachable,
    "UnmodifiableEntity": UnmodifiableEntity,
    "InvalidPublicKey": InvalidPublicKey,
    "UnrecognizedPublicKeyEncoding": InvalidPublicKey,
    "DuplicateSSHPublicKey": InvalidPublicKey,
    "ReportInProgress": CredentialReportNotReady,
    "ReportNotPresent": CredentialReportNotReady,
    "ReportExpired": CredentialReportNotReady,
}


def _mask(text: str, secrets: Iterable[str]) -> str:
    # Real IAM can echo a rejected value in a ValidationError message.
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _translate(exc: Exception, operation: str, client: BaseClient, secrets: list[str]) -> IamError:
    if isinstance(exc, ClientError):
        error, meta = exc.response.get("Error", {}), exc.response.get("ResponseMetadata", {})
        code, status = error.get("Code", "Unknown"), meta.get("HTTPStatusCode")
        error_class = _ERROR_CLASSES.get(code) or (ServiceFailure if status and status >= 500 else IamError)
        return error_class(
            code,
            _mask(error.get("Message", ""), secrets),
            request_id=meta.get("RequestId", ""),
            operation=operation,
            http_status=status,
        )
    if isinstance(exc, ParamValidationError):
        return InvalidInput("ParamValidation", _mask(exc.kwargs["report"], secrets), operation=operation)
    if isinstance(exc, CREDENTIAL_ERRORS):
        return aws_session.unavailable(exc, operation)
    endpoint, kind = client.meta.endpoint_url, type(exc).__name__
    if isinstance(exc, HTTPClientError):  # sent, but the answer was lost or late
        message = f"The IAM endpoint {endpoint} did not answer ({kind}); the call may have taken effect."
        return IamUnavailable("NoResponse", message, operation=operation)
    if isinstance(exc, ResponseParserError):  # e.g. a proxy's HTML error page
        message = f"The IAM endpoint {endpoint} gave an answer that is not IAM's; the call may have taken effect."
        return IamUnavailable("NoResponse", message, operation=operation)
    message = f"The IAM endpoint {endpoint} cannot be reached ({kind})."
    return IamUnavailable("EndpointUnavailable", message, operation=operation)


_TRANSLATED = (
    ClientError,
    ParamValidationError,
    *CREDENTIAL_ERRORS,
    BotocoreConnectionError,  # not sent: EndpointConnectionError, ConnectTimeoutError, ...
    HTTPClientError,  # sent, no answer: ReadTimeoutError, ConnectionClosedError
    ResponseParserError,  # sent, answered by something else (an HTML 5xx page)
)


@contextmanager
def _translated(operation: str, client: BaseClient, params: Mapping[str, Any]) -> Iterator[None]:
    """Turn whatever botocore raises inside the block into an `IamError`."""
    try:
        yield
    except _TRANSLATED as exc:
        secrets = [str(params[name]) for name in SECRET_PARAMETERS & params.keys() if params[name]]
        error = _translate(exc, operation, client, secrets)
        if isinstance(error, InvalidInput):
            log.warning("validator gap: IAM rejected %s with %s: %s", operation, error.code, error.message)
        # `from None`: the botocore frames below hold the raw parameters (passwords), and
        # Django's error reports show chained exceptions' frames.
        raise error from None


def _as_document(document: str | dict[str, Any]) -> dict[str, Any]:
    """A policy document as a dict: botocore decodes inline ones to a dict, moto's server can
    leave them a JSON string."""
    return json.loads(document) if isinstance(document, str) else document


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _account_info_key() -> str:
    """The cache key of `cached_account_info`: per endpoint and role, as `_cache_key` (":2":
    since it holds the caller's ARN)."""
    return f"account-info:2:{settings.IAM_ENDPOINT_URL}:{settings.IAM_ASSUME_ROLE_ARN}"


# --- The gateway ---------------------------------------------------------------------------


class IamGateway(SecurityCredentialVerbs, AccountVerbs, AccessAdvisorVerbs, UserExportVerbs):
    """IAM operations for the console. Every mutating call is audited under `operator`."""

    def __init__(
        self,
        iam_client: IAMClient,
        sts_client: BaseClient,
        key_client: IAMClient,
        *,
        operator: User | None = None,
        audit_to: audit.AuditBuffer | None = None,
        limiter: rate_limit.RateLimiter | None = None,
    ) -> None:
        self._iam, self._sts, self._key = iam_client, sts_client, key_client
        self.operator = operator
        self._limiter = limiter
        self._audit_to = audit_to  # None: each audit row is written at once
        self._deferring = False  # inside `changes_then_invalidate`
        self._stale = False  # a change was made while deferring
        for client in self.clients:
            CALLS.instrument(client)
        if limiter is not None:
            for client in (self._iam, self._key):
                rate_limit.instrument(client)

    @classmethod
    def from_settings(
        cls, *, operator: User | None = None, audit_to: audit.AuditBuffer | None = None, rate_limited: bool = False
    ) -> IamGateway:
        """A gateway on the configured IAM (users/iam/aws_session.py: credentials, assumed
        role); the clients are built once per process. With `audit_to`, its audit rows wait
        there for the caller's `flush` (a job chunk's). `rate_limited` (job workers): each
        attempt of its IAM calls waits for the rate limit all workers share (IAM_RATE_LIMIT)."""
        limiter = rate_limit.from_settings() if rate_limited else None
        return cls(*aws_session.clients(), operator=operator, audit_to=audit_to, limiter=limiter)

    @staticmethod
    def forget_clients() -> None:
        """Drop the shared clients, so the next `from_settings` builds new ones (tests)."""
        aws_session.forget()

    @staticmethod
    def check_reachable(timeout: float) -> None:
        """Raise an `IamError` unless the configured IAM answers one cheap read within about
        `timeout` seconds, never retried: the readiness check's probe. ListAccountAliases rather
        than STS's GetCallerIdentity, because on AWS STS is another endpoint than IAM's."""
        client = aws_session.probe_client(timeout)
        CALLS.instrument(client)  # a no-op after the first time
        with _translated("ListAccountAliases", client, {}):
            client.list_account_aliases(MaxItems=1)

    @property
    def clients(self) -> aws_session.Clients:
        """The boto3 clients, for instrumentation (call counting, fault injection)."""
        return (self._iam, self._sts, self._key)

    # --- plumbing ---

    @sensitive_variables("params", "response")
    def _call(self, operation: str, *, client: BaseClient | None = None, **params: Any) -> dict[str, Any]:
        """Make one API call, translating its errors and auditing it if it changes IAM."""
        client = client or self._iam
        try:
            if operation in MUTATING and settings.IAM_READ_ONLY:
                raise ReadOnlyConsole(operation)
            with rate_limit.limiting(self._limiter), _translated(operation, client, params):
                response: dict[str, Any] = getattr(client, xform_name(operation))(**params)
        except IamError as error:
            self._audit(operation, params, error)
            self._invalidate(operation)
            raise
        self._audit(operation, params, response)
        self._invalidate(operation)
        return response

    def _cache_key(self, name: str) -> str:
        # Per role too: another role is another account behind the same endpoint.
        return f"iam:{self._iam.meta.endpoint_url}:{settings.IAM_ASSUME_ROLE_ARN}:{name}"

    @contextmanager
    def changes_then_invalidate(self, *, by_job: bool = False) -> Iterator[None]:
        """Several changes in a row that read nothing cached (one user's provisioning): the
        cached reads are made stale once, at the end, rather than after each change; `by_job`,
        within JOB_CHANGE_LAG_SECONDS (`_cached`)."""
        self._deferring, self._stale = True, False
        try:
            yield
        finally:
            self._deferring = False
            if self._stale:
                self._invalidate_now(by_job=by_job)

    def invalidate_deferred(self, *, by_job: bool = False) -> None:
        """Inside `changes_then_invalidate`: make the changes so far stale now, if there were
        any (a job chunk does so each time it saves its items' progress)."""
        if self._stale:
            self._stale = False
            self._invalidate_now(by_job=by_job)

    def invalidate_all(self) -> None:
        """Make every cached read of this IAM stale at once: a job's end, after which what it
        changed shows on every page at once rather than within JOB_CHANGE_LAG_SECONDS."""
        self._invalidate_now()

    def _invalidate(self, operation: str) -> None:
        """After any change (even a failed one: it may have half-happened), cached reads of
        this IAM are stale: move to a new generation of cache keys."""
        if operation not in MUTATING:
            return
        if self._deferring:
            self._stale = True
            return
        self._invalidate_now()

    def _invalidate_now(self, *, by_job: bool = False) -> None:
        key = self._cache_key("job-generation" if by_job else "generation")
        try:
            cache.incr(key)
        except ValueError:  # no generation yet (or evicted): any new value will do
            cache.set(key, 1, None)

    def _items(self, operation: str, key: str, **params: Any) -> list[Any]:
        """Every item under `key`, across all pages of a read-only list operation: dicts, or
        strings for the lists of names (PolicyNames, AccountAliases)."""
        return [item for page in self._pages(operation, **params) for item in page[key]]

    def _pages(self, operation: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a read-only list operation, for answers with several lists or a
        header (GetGroup's Group, ListEntitiesForPolicy's users, groups and roles)."""
        client: BaseClient = self._iam  # paginators by operation name: the pages are untyped
        paginator = client.get_paginator(xform_name(operation))
        with rate_limit.limiting(self._limiter), _translated(operation, self._iam, params):
            return list(paginator.paginate(**params, PaginationConfig={"PageSize": PAGE_SIZE}))

    def _audit(self, operation: str, params: Mapping[str, Any], result: Mapping[str, Any] | IamError) -> None:
        """One audit row for a mutating call: `result` is its response or its error."""
        if operation not in MUTATING:
            return
        parameters = {name: "***" if name in SECRET_PARAMETERS else value for name, value in params.items()}
        target = next((params[name] for name in TARGET_PARAMETERS if name in params), "account")
        outcome: dict[str, Any]
        if isinstance(result, IamError):
            outcome = {
                "outcome": AuditEvent.Outcome.FAILURE,
                "error_code": result.code,
                "error_message": result.message,
                "request_id": result.request_id,
            }
        else:
            outcome = {
                "outcome": AuditEvent.Outcome.SUCCESS,
                "request_id": result["ResponseMetadata"].get("RequestId", ""),
            }
            if operation == "CreateAccessKey":
                parameters["AccessKeyId"] = result["AccessKey"]["AccessKeyId"]  # never the secret
            elif operation == "CreateServiceSpecificCredential":  # the id, never the password
                parameters["ServiceSpecificCredentialId"] = result["ServiceSpecificCredential"][
                    "ServiceSpecificCredentialId"
                ]
        row = audit.event(
            operator=self.operator, action=operation, target=str(target), parameters=parameters, **outcome
        )
        if self._audit_to is None:
            row.save()
        else:
            self._audit_to.add(row)

    # --- account ---

    def account_info(self) -> AccountInfo:
        """The account id and alias, and the caller's ARN (GetCallerIdentity, ListAccountAliases)."""
        caller = self._call("GetCallerIdentity", client=self._sts)
        aliases = self._items("ListAccountAliases", "AccountAliases")
        return AccountInfo(caller["Account"], aliases[0] if aliases else None, caller_arn=caller["Arn"])

    def cached_account_info(self) -> AccountInfo:
        """`account_info()`, cached for ACCOUNT_CACHE_SECONDS per endpoint: it changes rarely,
        and every page's frame shows it."""
        info = self.account_info_if_cached()
        if info is None:
            info = self.account_info()
            cache.set(_account_info_key(), info, ACCOUNT_CACHE_SECONDS)
        return info

    @staticmethod
    def account_info_if_cached() -> AccountInfo | None:
        """The cached `account_info()`, without calling IAM: for error pages, whose frame must
        not wait on what may be failing."""
        info: AccountInfo | None = cache.get(_account_info_key())
        return info

    @staticmethod
    def forget_account_info() -> None:
        """Drop the cached `account_info()` (the alias changed: users/iam/account_verbs.py)."""
        cache.delete(_account_info_key())

    def get_password_policy(self) -> PasswordPolicy:
        """The account password policy, or IAM's default (`is_default`) when none is set."""
        try:
            policy = self._call("GetAccountPasswordPolicy")["PasswordPolicy"]
        except NoSuchEntity:
            return PasswordPolicy.iam_default()
        return PasswordPolicy(
            minimum_length=policy.get("MinimumPasswordLength", 8),
            require_symbols=policy.get("RequireSymbols", False),
            require_numbers=policy.get("RequireNumbers", False),
            require_uppercase=policy.get("RequireUppercaseCharacters", False),
            require_lowercase=policy.get("RequireLowercaseCharacters", False),
            allow_users_to_change_password=policy.get("AllowUsersToChangePassword", False),
            max_password_age=policy.get("MaxPasswordAge") or None,  # moto says 0 for "never"
            password_reuse_prevention=policy.get("PasswordReusePrevention") or None,
            hard_expiry=policy.get("HardExpiry", False),
        )

    def update_password_policy(self, policy: PasswordPolicy) -> None:
        """Replace the whole account password policy (idempotent: fields left out reset)."""
        params: dict[str, Any] = {
            "MinimumPasswordLength": policy.minimum_length,
            "RequireSymbols": policy.require_symbols,
            "RequireNumbers": policy.require_numbers,
            "RequireUppercaseCharacters": policy.require_uppercase,
            "RequireLowercaseCharacters": policy.require_lowercase,
            "AllowUsersToChangePassword": policy.allow_users_to_change_password,
            "HardExpiry": policy.hard_expiry,
        }
        if policy.max_password_age:
            params["MaxPasswordAge"] = policy.max_password_age
        if policy.password_reuse_prevention:
            params["PasswordReusePrevention"] = policy.password_reuse_prevention
        self._call("UpdateAccountPasswordPolicy", **params)

    def delete_password_policy(self) -> None:
        """Go back to IAM's default policy. Idempotent: no policy set counts as done."""
        with suppress(NoSuchEntity):
            self._call("DeleteAccountPasswordPolicy")

    # --- users ---

    def list_users(self) -> list[IamUser]:
        """All users (ListUsers carries no tags or boundary)."""
        return [IamUser.from_api(user) for user in self._items("ListUsers", "Users")]

    def _cached(self, name: str, read: Callable[[], T], *, fresh: bool = False) -> T:
        """`read()`, cached for CACHE_SECONDS under the current generation: any change the
        console makes in a request moves to a new generation, so only changes made elsewhere
        can be up to CACHE_SECONDS late (or until `fresh`). A running job's changes (its own
        generation) show within JOB_CHANGE_LAG_SECONDS: a value read before them is read again
        once it is that old, in the background, while every request keeps it meanwhile."""
        generation, job_generation = self._generations()
        key = self._cache_key(f"{name}@{generation}")
        if not fresh and (cached := cache.get(key)) is not None:
            if not self._still_usable(key, cached, job_generation):
                # This request holds the refresh: it runs on read_pool, and this request too
                # serves the value it has (no request waits for a running job's changes).
                read_pool.in_background(name, lambda: self._read_into(key, read, job_generation))
            return cast(T, cached[2])
        return self._read_into(key, read, job_generation)

    @staticmethod
    def _read_into(key: str, read: Callable[[], T], job_generation: int) -> T:
        try:
            value = read()
            cache.set(key, (job_generation, time.time(), value), CACHE_SECONDS)
        finally:  # a failed read leaves the next request to try again
            cache.delete(f"{key}:refreshing")
        return value

    def _generations(self) -> tuple[int, int]:
        """The cache's generation and the running jobs' one (`_cached`), in one round trip."""
        keys = [self._cache_key("generation"), self._cache_key("job-generation")]
        found = cache.get_many(keys)
        return found.get(keys[0], 0), found.get(keys[1], 0)

    @staticmethod
    def _still_usable(key: str, cached: tuple[int, float, Any], job_generation: int) -> bool:
        """Whether a value cached under `key` is current enough: read since the running jobs'
        last changes, or less than JOB_CHANGE_LAG_SECONDS ago, or another request is reading it
        again. False takes the refresh over (for REFRESH_HOLD_SECONDS at most)."""
        read_job_generation, read_at, _ = cached
        if read_job_generation == job_generation or time.time() - read_at < JOB_CHANGE_LAG_SECONDS:
            return True
        return not cache.add(f"{key}:refreshing", 1, REFRESH_HOLD_SECONDS)

    def user_index(self, *, fresh: bool = False) -> list[UserSummary]:
        """All users with their groups and policies, sorted by name, from one paginated
        GetAccountAuthorizationDetails (one call per 1,000 users, not one per user); cached."""
        return self._cached("user-index", self._read_user_index, fresh=fresh)

    def group_index(self, *, fresh: bool = False) -> list[GroupSummary]:
        """All groups with their attached policies, sorted by name, from one paginated
        GetAccountAuthorizationDetails (not one ListAttachedGroupPolicies per group); cached."""
        # ":2": since GroupSummary holds the attached policies' ARNs (an older cached shape is not read).
        return self._cached("group-index:2", self._read_group_index, fresh=fresh)

    def policy_index(self, *, fresh: bool = False) -> list[Policy]:
        """All managed policies (about 1,600 AWS ones, 16 pages in moto), cached."""
        return self._cached("policy-index", self.list_policies, fresh=fresh)

    def attachable_policy_index(self) -> list[Policy]:
        """The managed policies a user or group can have attached (`Policy.is_attachable`)."""
        return [policy for policy in self.policy_index() if policy.is_attachable]

    def credential_report(self, *, fresh: bool = False) -> CredentialReport:
        """IAM's credential report, cached like the users index: a GenerateCredentialReport,
        repeated REPORT_POLLS times at most while IAM is still making it, then one
        GetCredentialReport, whatever the number of users. Raises CredentialReportNotReady
        if IAM has not finished it by then. Read-only: safe to call again."""
        return self._cached("credential-report", self._read_credential_report, fresh=fresh)

    def cached_user_index(self) -> list[UserSummary] | None:
        """`user_index()` as cached since the console's last change, else None; never calls IAM
        (the navigation's drift badge: users/drift/)."""
        return cast("list[UserSummary] | None", self._peek("user-index"))

    def cached_credential_report(self) -> CredentialReport | None:
        """`credential_report()` as cached since the console's last change, else None; never calls IAM."""
        return cast("CredentialReport | None", self._peek("credential-report"))

    def cache_generation(self) -> int:
        """The generation of the cached reads (`_cached`): it moves on with each change made
        through the console, so a value kept under it is recounted after such a change."""
        return self._generations()[0]

    def _peek(self, name: str) -> Any:
        # No `_still_usable`: a job's last 2 seconds do not matter to a peek, which must not
        # take the refresh over from the request that would read IAM again.
        cached = cache.get(self._cache_key(f"{name}@{self.cache_generation()}"))
        return None if cached is None else cached[2]

    def _read_credential_report(self) -> CredentialReport:
        return parse_credential_report(*self.credential_report_csv())

    def credential_report_csv(self) -> tuple[bytes, datetime]:
        """IAM's credential report as IAM wrote it, its CSV bytes, and when IAM generated it;
        never cached. Generated and waited for as `credential_report`'s. Read-only."""
        for attempt in range(REPORT_POLLS):
            if attempt:
                time.sleep(REPORT_POLL_SECONDS)
            if self._call("GenerateCredentialReport")["State"] == "COMPLETE":
                response = self._call("GetCredentialReport")
                return response["Content"], as_utc(response["GeneratedTime"])
        message = "IAM is still generating the credential report."
        raise CredentialReportNotReady("ReportInProgress", message, operation="GenerateCredentialReport")

    def _read_group_index(self) -> list[GroupSummary]:
        groups = self._items("GetAccountAuthorizationDetails", "GroupDetailList", Filter=["Group"])
        summaries = [
            GroupSummary(
                name=group["GroupName"],
                arn=group["Arn"],
                created=as_utc(group["CreateDate"]),
                attached=tuple(
                    AttachedPolicy(p["PolicyName"], p["PolicyArn"]) for p in group.get("AttachedManagedPolicies", ())
                ),
                inline_policies=tuple(p["PolicyName"] for p in group.get("GroupPolicyList", ())),
            )
            for group in groups
        ]
        return sorted(summaries, key=lambda summary: summary.name.casefold())

    def _read_user_index(self) -> list[UserSummary]:
        users = self._items("GetAccountAuthorizationDetails", "UserDetailList", Filter=["User"])
        summaries = [
            UserSummary(
                name=user["UserName"],
                user_id=user["UserId"],
                arn=user["Arn"],
                path=user["Path"],
                created=as_utc(user["CreateDate"]),
                groups=tuple(sorted(user.get("GroupList", ()), key=str.casefold)),
                policies=tuple(p["PolicyName"] for p in user.get("AttachedManagedPolicies", ()))
                + tuple(p["PolicyName"] for p in user.get("UserPolicyList", ())),
            )
            for user in users
        ]
        return sorted(summaries, key=lambda summary: summary.name.casefold())

    def get_user(self, name: str) -> IamUser:
        """One user, with its permissions boundary and tags."""
        return IamUser.from_api(self._call("GetUser", UserName=name)["User"])

    def user_exists(self, name: str) -> bool:
        """Whether IAM knows the user (read-only, cheap: one GetUser)."""
        try:
            self._call("GetUser", UserName=name)
        except NoSuchEntity:
            return False
        return True

    def create_user(
        self,
        name: str,
        *,
        path: str = "/",
        tags: Mapping[str, str] = {},
        permissions_boundary: str | None = None,
    ) -> IamUser:
        """Create a user. Not idempotent: a retry raises EntityAlreadyExists. The tags are
        atomic with the user, so a job-marker tag proves who created it (RELIABILITY.md §2.2)."""
        params: dict[str, Any] = {"UserName": name, "Path": path}
        if tags:
            params["Tags"] = _tag_list(tags)
        if permissions_boundary:
            params["PermissionsBoundary"] = permissions_boundary
        return IamUser.from_api(self._call("CreateUser", **params)["User"])

    def delete_user(self, name: str) -> None:
        """Delete a user that has nothing left attached (else DeleteConflict).
        A retry after success raises NoSuchEntity."""
        self._call("DeleteUser", UserName=name)

    def find_user_by_access_key(self, access_key_id: str) -> str | None:
        """The name of the user owning the key, or None if IAM does not show it to us."""
        try:
            return self._call("GetAccessKeyLastUsed", AccessKeyId=access_key_id).get("UserName")
        except (NoSuchEntity, AccessDenied):
            return None

    # --- credentials ---

    def get_login_profile(self, name: str) -> LoginProfile | None:
        """The user's console password settings, or None if it has no password
        (or does not exist: IAM says NoSuchEntity for both)."""
        try:
            profile = self._call("GetLoginProfile", UserName=name)["LoginProfile"]
        except NoSuchEntity:
            return None
        return LoginProfile.from_api(profile)

    @sensitive_variables("password")
    def create_login_profile(self, name: str, password: str, *, reset_required: bool) -> LoginProfile:
        """Give the user a console password. A retry raises EntityAlreadyExists, which after a
        lost response means done: store the password before calling (RELIABILITY.md §2.2)."""
        response = self._call(
            "CreateLoginProfile", UserName=name, Password=password, PasswordResetRequired=reset_required
        )
        return LoginProfile.from_api(response["LoginProfile"])

    @sensitive_variables("password")
    def update_login_profile(
        self, name: str, *, password: str | None = None, reset_required: bool | None = None
    ) -> None:
        """Change the password and/or the reset flag (idempotent)."""
        params: dict[str, Any] = {"UserName": name}
        if password is not None:
            params["Password"] = password
        if reset_required is not None:
            params["PasswordResetRequired"] = reset_required
        self._call("UpdateLoginProfile", **params)

    def delete_login_profile(self, name: str) -> None:
        """Remove console access. A retry after success raises NoSuchEntity."""
        self._call("DeleteLoginProfile", UserName=name)

    def list_access_keys(self, name: str) -> list[AccessKey]:
        """The user's access keys (ids and status; secrets are never readable again)."""
        return [
            AccessKey(key["AccessKeyId"], key["Status"], as_utc(key["CreateDate"]))
            for key in self._items("ListAccessKeys", "AccessKeyMetadata", UserName=name)
        ]

    def cached_access_keys(self, names: list[str], *, fresh: bool = False) -> dict[str, list[AccessKey]]:
        """Each user's `list_access_keys`, cached as the users index is (`_cached`) and read
        from the cache in one round trip: the users list shows a page of users' keys on every
        request. Those not cached, or stale, are read from IAM side by side (8 at a time)."""
        generation, job_generation = self._generations()
        keys = {name: self._cache_key(f"access-keys:{name}@{generation}") for name in names}
        found = {} if fresh else cache.get_many(list(keys.values()))
        result = {
            name: found[key][2]
            for name, key in keys.items()
            if key in found and self._still_usable(key, found[key], job_generation)
        }
        missing = [name for name in names if name not in result]
        if missing:
            with ThreadPoolExecutor(max_workers=min(8, len(missing))) as pool:
                read = dict(zip(missing, pool.map(self.list_access_keys, missing), strict=True))
            cache.set_many({keys[name]: (job_generation, time.time(), read[name]) for name in missing}, CACHE_SECONDS)
            for name in missing:
                cache.delete(f"{keys[name]}:refreshing")
            result.update(read)
        return result

    def create_access_key(self, name: str) -> NewAccessKey:
        """Create a key; its secret exists only in the returned value. Never retried, by the SDK
        either: after an unclear failure, `list_access_keys` first (RELIABILITY.md §2.2)."""
        key = self._call("CreateAccessKey", client=self._key, UserName=name)["AccessKey"]
        return NewAccessKey(
            user_name=key["UserName"],
            access_key_id=key["AccessKeyId"],
            secret_access_key=key["SecretAccessKey"],
            status=key["Status"],
            created=as_utc(key["CreateDate"]),
        )

    def update_access_key(self, name: str, key_id: str, status: Literal["Active", "Inactive"]) -> None:
        """Activate or deactivate a key (idempotent)."""
        self._call("UpdateAccessKey", UserName=name, AccessKeyId=key_id, Status=status)

    def delete_access_key(self, name: str, key_id: str) -> None:
        """Delete a key. A retry after success raises NoSuchEntity."""
        self._call("DeleteAccessKey", UserName=name, AccessKeyId=key_id)

    def access_key_last_used(self, key_id: str) -> AccessKeyLastUsed:
        """When, where and for which service the key was last used (IAM says "N/A" for never)."""
        used = self._call("GetAccessKeyLastUsed", AccessKeyId=key_id).get("AccessKeyLastUsed", {})
        region, service = used.get("Region", "N/A"), used.get("ServiceName", "N/A")
        return AccessKeyLastUsed(
            used_at=as_utc(used["LastUsedDate"]) if used.get("LastUsedDate") else None,
            region=None if region == "N/A" else region,
            service=None if service == "N/A" else service,
        )

    # --- groups ---

    def list_groups(self) -> list[Group]:
        """All groups."""
        return [Group.from_api(group) for group in self._items("ListGroups", "Groups")]

    def create_group(self, name: str, path: str = "/") -> Group:
        """Create a group. A retry raises EntityAlreadyExists."""
        return Group.from_api(self._call("CreateGroup", GroupName=name, Path=path)["Group"])

    def attach_group_policy(self, group: str, arn: str) -> None:
        """Attach a managed policy to a group (idempotent)."""
        self._call("AttachGroupPolicy", GroupName=group, PolicyArn=arn)

    def list_attached_group_policies(self, group: str) -> list[AttachedPolicy]:
        """The managed policies attached to a group."""
        items = self._items("ListAttachedGroupPolicies", "AttachedPolicies", GroupName=group)
        return [AttachedPolicy(item["PolicyName"], item["PolicyArn"]) for item in items]

    def list_groups_for_user(self, name: str) -> list[Group]:
        """The groups the user belongs to."""
        return [Group.from_api(group) for group in self._items("ListGroupsForUser", "Groups", UserName=name)]

    def add_user_to_group(self, group: str, user: str) -> None:
        """Add the user to the group (idempotent)."""
        self._call("AddUserToGroup", GroupName=group, UserName=user)

    def remove_user_from_group(self, group: str, user: str) -> None:
        """Remove the user from the group. A retry after success raises NoSuchEntity."""
        self._call("RemoveUserFromGroup", GroupName=group, UserName=user)

    def get_group(self, name: str) -> tuple[Group, list[IamUser]]:
        """The group and its members (GetGroup: one call per 1,000 members)."""
        pages = self._pages("GetGroup", GroupName=name)
        members = [IamUser.from_api(user) for page in pages for user in page["Users"]]
        return Group.from_api(pages[0]["Group"]), members

    def delete_group(self, name: str) -> None:
        """Delete a group that has no members and no policies left (else DeleteConflict).
        A retry after success raises NoSuchEntity."""
        self._call("DeleteGroup", GroupName=name)

    def detach_group_policy(self, group: str, arn: str) -> None:
        """Detach a managed policy from a group. A retry after success raises NoSuchEntity."""
        self._call("DetachGroupPolicy", GroupName=group, PolicyArn=arn)

    def list_group_policy_names(self, group: str) -> list[str]:
        """The names of the group's inline policies (no documents: one call per page)."""
        return list(self._items("ListGroupPolicies", "PolicyNames", GroupName=group))

    def delete_group_policy(self, group: str, name: str) -> None:
        """Delete one of the group's inline policies. A retry after success raises NoSuchEntity."""
        self._call("DeleteGroupPolicy", GroupName=group, PolicyName=name)

    # --- policies ---

    def list_policies(self, scope: Literal["All", "AWS", "Local"] = "All", only_attached: bool = False) -> list[Policy]:
        """Managed policies (about 1,600 AWS ones: prefer scope="Local" or only_attached)."""
        items = self._items("ListPolicies", "Policies", Scope=scope, OnlyAttached=only_attached)
        return [Policy.from_api(item) for item in items]

    def get_policy(self, arn: str) -> Policy:
        """One managed policy, with its description (GetPolicy)."""
        return Policy.from_api(self._call("GetPolicy", PolicyArn=arn)["Policy"])

    def policy_description(self, arn: str) -> str:
        """A managed policy's description, which ListPolicies leaves out: one GetPolicy, then
        cached for DESCRIPTION_CACHE_SECONDS whatever the console changes."""
        key = self._cache_key("policy-description:" + hashlib.sha256(arn.encode()).hexdigest())
        description: str | None
        if (description := cache.get(key)) is None:
            description = self.get_policy(arn).description
            cache.set(key, description, DESCRIPTION_CACHE_SECONDS)
        return description

    def get_policy_document(self, arn: str, *, version_id: str | None = None) -> dict[str, Any]:
        """A version's document of a managed policy: the default version's (GetPolicy +
        GetPolicyVersion) unless `version_id` is given (GetPolicyVersion only)."""
        if version_id is None:
            version_id = self._call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
        version = self._call("GetPolicyVersion", PolicyArn=arn, VersionId=version_id)["PolicyVersion"]
        return cast("dict[str, Any]", version["Document"])  # botocore decodes the URL-encoded JSON

    def list_entities_for_policy(self, arn: str) -> PolicyEntities:
        """The users, groups and roles the policy is attached to (one call per 1,000)."""
        pages = self._pages("ListEntitiesForPolicy", PolicyArn=arn)
        return PolicyEntities(
            users=tuple(item["UserName"] for page in pages for item in page["PolicyUsers"]),
            groups=tuple(item["GroupName"] for page in pages for item in page["PolicyGroups"]),
            roles=tuple(item["RoleName"] for page in pages for item in page["PolicyRoles"]),
        )

    def get_user_policy_document(self, user: str, name: str) -> dict[str, Any]:
        """An inline policy of the user (GetUserPolicy; botocore decodes the document)."""
        return _as_document(self._call("GetUserPolicy", UserName=user, PolicyName=name)["PolicyDocument"])

    def get_group_policy_document(self, group: str, name: str) -> dict[str, Any]:
        """An inline policy of a group (GetGroupPolicy)."""
        return _as_document(self._call("GetGroupPolicy", GroupName=group, PolicyName=name)["PolicyDocument"])

    def attach_user_policy(self, user: str, arn: str) -> None:
        """Attach a managed policy to the user (idempotent)."""
        self._call("AttachUserPolicy", UserName=user, PolicyArn=arn)

    def detach_user_policy(self, user: str, arn: str) -> None:
        """Detach a managed policy. A retry after success raises NoSuchEntity."""
        self._call("DetachUserPolicy", UserName=user, PolicyArn=arn)

    def list_attached_user_policies(self, user: str) -> list[AttachedPolicy]:
        """The managed policies attached to the user."""
        items = self._items("ListAttachedUserPolicies", "AttachedPolicies", UserName=user)
        return [AttachedPolicy(item["PolicyName"], item["PolicyArn"]) for item in items]

    def put_user_policy(self, user: str, name: str, document: str | Mapping[str, Any]) -> None:
        """Create or replace an inline policy (idempotent)."""
        if not isinstance(document, str):
            document = json.dumps(document)
        self._call("PutUserPolicy", UserName=user, PolicyName=name, PolicyDocument=document)

    def list_user_policies(self, user: str) -> list[InlinePolicy]:
        """The user's inline policies with their documents (1 + one GetUserPolicy per policy)."""
        return [
            InlinePolicy(name, self._call("GetUserPolicy", UserName=user, PolicyName=name)["PolicyDocument"])
            for name in self.list_user_policy_names(user)
        ]

    def list_user_policy_names(self, user: str) -> list[str]:
        """The names of the user's inline policies (no documents: one call per page)."""
        return list(self._items("ListUserPolicies", "PolicyNames", UserName=user))

    def delete_user_policy(self, user: str, name: str) -> None:
        """Delete an inline policy. A retry after success raises NoSuchEntity."""
        self._call("DeleteUserPolicy", UserName=user, PolicyName=name)

    def put_user_permissions_boundary(self, user: str, arn: str) -> None:
        """Set the user's permissions boundary (idempotent)."""
        self._call("PutUserPermissionsBoundary", UserName=user, PermissionsBoundary=arn)

    def delete_user_permissions_boundary(self, user: str) -> None:
        """Remove the user's permissions boundary."""
        self._call("DeleteUserPermissionsBoundary", UserName=user)

    # --- tags ---

    def tag_user(self, user: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags (idempotent; all or none are applied)."""
        self._call("TagUser", UserName=user, Tags=_tag_list(tags))

    def untag_user(self, user: str, keys: Iterable[str]) -> None:
        """Remove tags by key (idempotent: missing keys are ignored)."""
        self._call("UntagUser", UserName=user, TagKeys=list(keys))

    def list_user_tags(self, user: str) -> dict[str, str]:
        """The user's tags, in IAM's order."""
        return {tag["Key"]: tag["Value"] for tag in self._items("ListUserTags", "Tags", UserName=user)}
