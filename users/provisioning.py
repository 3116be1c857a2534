"""Provisioning: turn a reviewed `UserPlan` into IAM calls (FEATURES.md §1A, §6; RELIABILITY.md
§2.2, §2.7). Shared by the Add-user wizard (through Celery jobs, users/jobs.py) and the bulk import.

A plain module: no Django models, no Celery. Job state lives behind two small protocols that
the caller implements: `Progress` (which steps are done, when each was last started) and
`Vault` (this user's slice of the one-time secret store, users/credentials.py).

The happy path makes exactly these calls, in this order, and nothing else (no GetUser
pre-checks):

    CreateUser (Tags, with CREATED_BY_TAG, and PermissionsBoundary in the same call)
    CreateLoginProfile                      console access
    AttachUserPolicy IAMUserChangePassword  the planned change-password rule
    AddUserToGroup × groups
    AttachUserPolicy × policy_arns
    PutUserPolicy × inline_policies
    CreateAccessKey                         programmatic access

Failures are never rolled back (RELIABILITY.md §2.7): `provision_user` records the failed step
and stops, and a later call resumes at that step. Failures we decide ourselves rather than IAM:

- a user of that name that this job did not create: `EntityAlreadyExists` (NAME_TAKEN) with
  the message "A user named X already exists (not created by this job). Choose another name
  …". A user is this job's when it carries the job item's CREATED_BY_TAG: tags are created with
  the user, atomically, so the tag proves it whatever happened in between (a lost response, a
  killed worker, another job creating the same name at the same moment). A retry cannot repair
  that failure, so the job does not offer one (users/jobs.py);
- a custom password the one-time store no longer holds: `ProvisioningError`, code
  "CredentialsExpired".
"""

from __future__ import annotations

import contextlib
import json
import random
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol, TypeVar

from users.credentials import CredentialsGone
from users.iam.errors import (
    ConcurrentModification,
    EntityAlreadyExists,
    IamError,
    IamUnavailable,
    NoSuchEntity,
    ServiceFailure,
    Throttled,
)
from users.iam.gateway import IamGateway
from users.iam.types import PasswordPolicy
from users.passwords import generate_password
from users.validators import CONSOLE_TAG_PREFIX

CHANGE_PASSWORD_POLICY_ARN = "arn:aws:iam::aws:policy/IAMUserChangePassword"
# Errors the Celery task retries with backoff; provision_user records them and re-raises.
RETRYABLE = (Throttled, ServiceFailure, ConcurrentModification, IamUnavailable)
# The error code of a user name taken by a user this job did not create: no retry repairs it.
NAME_TAKEN = "EntityAlreadyExists"
# The tag CreateUser puts on each user, valued with the job item that creates it.
CREATED_BY_TAG = f"{CONSOLE_TAG_PREFIX}created-by"
# Waits between in-process attempts of CreateAccessKey that IAM throttled (it did not run them,
# so sending again is safe); the SDK never resends that call (users/iam/gateway.py).
THROTTLED_KEY_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)
# Waits between in-process retries of a step that IAM answers NoSuchEntity for the user it has
# just created (eventual consistency): 15.5 s at most, then the step fails.
CONSISTENCY_BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)

_T = TypeVar("_T")


class ProvisioningError(IamError):
    """A step failed for a reason of our own, not an IAM answer (no request id).
    Code "CredentialsExpired": the job's custom password is gone from the one-time store."""


# --- The plan --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserPlan:
    """Everything needed to create one user, as reviewed in the wizard. Never holds a secret:
    passwords and keys live in the `Vault`. Lists given for the tuple fields become tuples."""

    user_name: str
    path: str = "/"
    console_access: bool = False
    custom_password: bool = False  # True: the job's typed password; False: one generated per user
    password_reset_required: bool = True
    programmatic_access: bool = False
    attach_change_password: bool = False  # the IAMUserChangePassword rule, decided when planning
    groups: tuple[str, ...] = ()
    policy_arns: tuple[str, ...] = ()  # attached directly; IAMUserChangePassword is not in here
    inline_policies: tuple[tuple[str, str], ...] = ()  # (name, JSON document)
    permissions_boundary: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("groups", "policy_arns"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("inline_policies", "tags"):
            object.__setattr__(self, name, tuple(tuple(pair) for pair in getattr(self, name)))

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists); `from_json` restores the plan."""
        data: dict[str, Any] = {field.name: getattr(self, field.name) for field in fields(self)}
        for name in ("groups", "policy_arns"):
            data[name] = list(data[name])
        for name in ("inline_policies", "tags"):
            data[name] = [list(pair) for pair in data[name]]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserPlan:
        """The plan `to_json` gave `data` for (an unknown key raises TypeError)."""
        return cls(**data)

    def managed_policy_count(self) -> int:
        """Managed policies this plan attaches to the user (IAM allows 10 per user)."""
        return len(self.policy_arns) + int(self.attach_change_password)

    def step_names(self) -> list[str]:
        """The steps of this plan, in the order they run; `Progress` records them by name."""
        steps = ["CreateUser"]
        if self.console_access:
            steps.append("CreateLoginProfile")
        if self.attach_change_password:
            steps.append(f"AttachUserPolicy:{CHANGE_PASSWORD_POLICY_ARN}")
        steps += [f"AddUserToGroup:{group}" for group in self.groups]
        steps += [f"AttachUserPolicy:{arn}" for arn in self.policy_arns]
        steps += [f"PutUserPolicy:{name}" for name, _ in self.inline_policies]
        if self.programmatic_access:
            steps.append("CreateAccessKey")
        return steps

    def cli_commands(self) -> list[str]:
        """The equivalent AWS CLI, one command per step, shell-quoted; secrets as placeholders."""
        user = shlex.quote(self.user_name)
        commands = []
        for step in self.step_names():
            operation, _, argument = step.partition(":")
            arg = shlex.quote(argument)
            if operation == "CreateUser":
                command = f"aws iam create-user --user-name {user}"
                if self.path != "/":
                    command += f" --path {shlex.quote(self.path)}"
                if self.permissions_boundary:
                    command += f" --permissions-boundary {shlex.quote(self.permissions_boundary)}"
                if self.tags:
                    pairs = (shlex.quote(f"Key={key},Value={value}") for key, value in self.tags)
                    command += " --tags " + " ".join(pairs)
            elif operation == "CreateLoginProfile":
                reset = (
                    "--password-reset-required" if self.password_reset_required else ("--no-password-reset-required")
                )
                command = (
                    f"aws iam create-login-profile --user-name {user} --password {shlex.quote('<password>')} {reset}"
                )
            elif operation == "AttachUserPolicy":
                command = f"aws iam attach-user-policy --user-name {user} --policy-arn {arg}"
            elif operation == "AddUserToGroup":
                command = f"aws iam add-user-to-group --group-name {arg} --user-name {user}"
            elif operation == "PutUserPolicy":
                document = dict(self.inline_policies)[argument]
                command = (
                    f"aws iam put-user-policy --user-name {user} --policy-name {arg} "
                    f"--policy-document {shlex.quote(document)}"
                )
            else:  # CreateAccessKey
                command = f"aws iam create-access-key --user-name {user}"
            commands.append(command)
        return commands


def needs_change_password_policy(*, console_access: bool, reset_required: bool, policy: PasswordPolicy) -> bool:
    """Whether to attach IAMUserChangePassword (FEATURES.md §3A): a console user who must reset
    the password, in an account whose policy does not let users change their own (IAM's
    default policy counts as not letting them)."""
    allowed = policy.allow_users_to_change_password and not policy.is_default
    return console_access and reset_required and not allowed


# --- Copy permissions from an existing user --------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopiedPermissions:
    """What "Copy permissions from existing user" copies: never tags, never credentials."""

    groups: tuple[str, ...]
    policy_arns: tuple[str, ...]
    inline_policies: tuple[tuple[str, str], ...]  # (name, JSON document)
    permissions_boundary: str | None


def copy_permissions(gateway: IamGateway, source_user: str) -> CopiedPermissions:
    """The source user's groups, attached managed policies, inline policies and permissions
    boundary (ListGroupsForUser, ListAttachedUserPolicies, ListUserPolicies + GetUserPolicy × n,
    GetUser). Read-only, so safe to call any number of times."""
    groups = tuple(group.name for group in gateway.list_groups_for_user(source_user))
    arns = tuple(policy.arn for policy in gateway.list_attached_user_policies(source_user))
    inline = tuple(
        (policy.name, policy.document if isinstance(policy.document, str) else json.dumps(policy.document))
        for policy in gateway.list_user_policies(source_user)
    )
    boundary = gateway.get_user(source_user).permissions_boundary_arn
    return CopiedPermissions(groups, arns, inline, boundary)


# --- Provisioning ------------------------------------------------------------------------------


class Progress(Protocol):
    """One user's step results (implemented over JobItem by users/jobs.py)."""

    def is_done(self, step: str) -> bool: ...
    def started_at(self, step: str) -> datetime | None: ...  # start of the latest attempt
    # `durable`: a step a later run must know was tried (CreateAccessKey): saved before it
    # returns, or else known to the next run if this one dies (`started_at` then answers).
    # Other starts, and successes, may be saved later: every step is safe to redo, so a run
    # that dies first only repeats it.
    def start(self, step: str, *, durable: bool) -> None: ...
    def succeed(self, step: str, **facts: str) -> None: ...  # e.g. access_key_id=...
    def fail(self, step: str, error: IamError) -> None: ...


class Vault(Protocol):
    """One user's slice of the one-time secret store (users/credentials.py)."""

    def password(self) -> str | None: ...
    def keep_password(self, password: str) -> bool: ...  # add-only: whether this one was kept
    def held_access_key_id(self) -> str | None: ...
    def keep_access_key(self, access_key_id: str, secret_access_key: str) -> None: ...  # add-only
    def custom_password(self) -> str: ...  # raises CredentialsGone


def provision_user(
    plan: UserPlan,
    *,
    gateway: IamGateway,
    progress: Progress,
    vault: Vault,
    password_policy: PasswordPolicy,
    created_by: str,
    sleep: Callable[[float], object] = time.sleep,
) -> bool:
    """Run the plan's steps that `progress` does not show as done, in order; True when all are.
    `created_by` names this user's job item, the same on every run (CREATED_BY_TAG's value).

    A non-retryable `IamError`: `progress.fail(step, error)` and False; later steps are not run
    and earlier ones are not undone. A `RETRYABLE` error: `progress.fail(step, error)`, then
    re-raised for the Celery task to retry with backoff.

    Safe to call again after a partial failure because done steps are skipped and every step is
    idempotent: CreateUser's EntityAlreadyExists counts as success only for the user that carries
    our CREATED_BY_TAG (GetUser); a password is stored
    before CreateLoginProfile, so its EntityAlreadyExists means done; AddUserToGroup,
    AttachUserPolicy and PutUserPolicy are idempotent in IAM; CreateAccessKey is never resent
    blindly: a key already stored means done, and after an unclear attempt the user's keys
    (orphans: nobody holds their secret) are deleted before exactly one new key is created.
    """
    run = _Run(plan, gateway, vault, password_policy, created_by, sleep)
    for step in plan.step_names():
        if progress.is_done(step):
            continue
        previous_start = progress.started_at(step)
        progress.start(step, durable=step == "CreateAccessKey")
        try:
            facts = run.step(step, previous_start)
        except IamError as error:
            progress.fail(step, error)
            if isinstance(error, RETRYABLE):
                raise
            return False
        progress.succeed(step, **facts)
    return True


class _Run:
    """The steps of one `provision_user` call."""

    def __init__(
        self,
        plan: UserPlan,
        gateway: IamGateway,
        vault: Vault,
        password_policy: PasswordPolicy,
        created_by: str,
        sleep: Callable[[float], object],
    ) -> None:
        self.plan, self.gateway, self.vault = plan, gateway, vault
        self.password_policy, self.created_by, self.sleep = password_policy, created_by, sleep

    def step(self, step: str, previous_start: datetime | None) -> dict[str, str]:
        """Do one step; returns the facts for `Progress.succeed`."""
        operation, _, argument = step.partition(":")
        name, gateway = self.plan.user_name, self.gateway
        if operation == "CreateUser":
            self._create_user()
        elif operation == "CreateLoginProfile":
            self._create_login_profile()
        elif operation == "AttachUserPolicy":
            self._after_create_user(lambda: gateway.attach_user_policy(name, argument))
        elif operation == "AddUserToGroup":
            self._after_create_user(lambda: gateway.add_user_to_group(argument, name))
        elif operation == "PutUserPolicy":
            document = dict(self.plan.inline_policies)[argument]
            self._after_create_user(lambda: gateway.put_user_policy(name, argument, document))
        elif operation == "CreateAccessKey":
            return {"access_key_id": self._create_access_key(previous_start)}
        else:
            raise ValueError(f"unknown step {step!r}")
        return {}

    def _create_user(self) -> None:
        plan = self.plan
        try:
            self.gateway.create_user(
                plan.user_name,
                path=plan.path,
                tags={**dict(plan.tags), CREATED_BY_TAG: self.created_by},
                permissions_boundary=plan.permissions_boundary,
            )
        except EntityAlreadyExists as error:
            if not self._created_by_us():
                raise EntityAlreadyExists(
                    NAME_TAKEN,
                    f"A user named {plan.user_name} already exists (not created by this job). "
                    "Choose another name and add this user again.",
                    request_id=error.request_id,
                    operation=error.operation,
                    http_status=error.http_status,
                ) from None

    def _created_by_us(self) -> bool:
        """Whether the existing user is the one an earlier attempt of this job item created
        before its answer was lost. IAM names are unique regardless of case, so a user found
        under another spelling (or not found: moto looks names up exactly) is someone else's."""
        try:
            user = self.gateway.get_user(self.plan.user_name)
        except NoSuchEntity:
            return False
        return user.name == self.plan.user_name and dict(user.tags).get(CREATED_BY_TAG) == self.created_by

    def _create_login_profile(self) -> None:
        password = self.vault.password()
        if password is None:
            if self.plan.custom_password:
                try:
                    new_password = self.vault.custom_password()
                except CredentialsGone:
                    raise ProvisioningError(
                        "CredentialsExpired",
                        "The custom password has expired from the one-time store; start again with a new password.",
                        operation="CreateLoginProfile",
                    ) from None
            else:
                new_password = generate_password(self.password_policy)
            # Add-only: a password stored meanwhile stays, and is the one that will be shown.
            password = new_password if self.vault.keep_password(new_password) else self.vault.password()
            if password is None:
                raise ProvisioningError(
                    "CredentialsExpired",
                    "The password could not be kept in the one-time store; try again.",
                    operation="CreateLoginProfile",
                )
        name, reset = self.plan.user_name, self.plan.password_reset_required
        # EntityAlreadyExists: our earlier attempt's response was lost; its password is the stored one.
        with contextlib.suppress(EntityAlreadyExists):
            self._after_create_user(lambda: self.gateway.create_login_profile(name, password, reset_required=reset))

    def _create_access_key(self, previous_start: datetime | None) -> str:
        held = self.vault.held_access_key_id()
        if held:
            return held
        name, gateway = self.plan.user_name, self.gateway
        if previous_start is not None:
            # An earlier attempt may have created a key whose secret nobody holds.
            for stale in self._after_create_user(lambda: gateway.list_access_keys(name)):
                with contextlib.suppress(NoSuchEntity):
                    gateway.delete_access_key(name, stale.access_key_id)
        key = self._after_create_user(lambda: self._while_throttled(lambda: gateway.create_access_key(name)))
        self.vault.keep_access_key(key.access_key_id, key.secret_access_key)
        return key.access_key_id

    def _while_throttled(self, call: Callable[[], _T]) -> _T:
        """`call()`, sent again after THROTTLED_KEY_BACKOFF (with jitter) while IAM throttles it:
        a throttled request was not run. Any other error, unclear ones included, goes up."""
        for delay in (*THROTTLED_KEY_BACKOFF, None):
            try:
                return call()
            except Throttled:
                if delay is None:
                    raise
                self.sleep(random.uniform(delay / 2, delay))
        raise AssertionError("unreachable")

    def _after_create_user(self, call: Callable[[], _T]) -> _T:
        """`call()`, retried with CONSISTENCY_BACKOFF while IAM does not yet see the new user
        (NoSuchEntity). A missing group or policy fails at once."""
        for delay in (*CONSISTENCY_BACKOFF, None):
            try:
                return call()
            except NoSuchEntity as error:
                if delay is None or not self._user_missing(error):
                    raise
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _user_missing(self, error: NoSuchEntity) -> bool:
        """Whether the NoSuchEntity may be about our user ("The user with name X cannot be
        found.") rather than the group or policy named in the plan ("The group with name X
        cannot be found.", "Policy arn:… does not exist or is not attachable.")."""
        message = error.message.casefold()
        if "user with name" in message:
            return True
        return "group" not in message and "policy" not in message
