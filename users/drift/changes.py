"""Drift's pure part: each user's state from the users index and the credential report, the
changes between two states, and which of them the audit trail explains (users/drift/__init__.py).

No database, no IAM: plain values in, plain values out, so 5,000 users are diffed in memory in a
few milliseconds (tests/test_drift.py, bench/drift.py).
"""

from __future__ import annotations

import gc
import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from users.iam.types import CredentialReport, UserSummary

# A user's state, as stored (JSON): [user id, groups, policies, console password, access keys].
# Policies are the names of the attached managed and the inline ones. Password and keys are None
# while the credential report has no line for the user; keys are [[created ISO, active], ...].
UserState = list[Any]
State = dict[str, UserState]
_ID, _GROUPS, _POLICIES, _PASSWORD, _KEYS = range(5)
_NEW_USER: UserState = ["", [], [], False, []]  # what a created user is compared with


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of change: how the page names it, where its link leads, what explains it."""

    key: str
    label: str
    section: str  # the tab of the user's page its link opens ("" = the Permissions default)
    credentials: bool = False  # read from the credential report (else from the users index)
    by_detail: bool = False  # an audit row explains it only for the same group or policy


USER_CREATED = Kind("user_created", "User created", "")
USER_DELETED = Kind("user_deleted", "User deleted", "")
GROUP_ADDED = Kind("group_added", "Added to group", "groups", by_detail=True)
GROUP_REMOVED = Kind("group_removed", "Removed from group", "groups", by_detail=True)
POLICY_ATTACHED = Kind("policy_attached", "Policy attached", "permissions", by_detail=True)
POLICY_DETACHED = Kind("policy_detached", "Policy detached", "permissions", by_detail=True)
KEY_CREATED = Kind("key_created", "Access key created", "security_credentials", credentials=True)
KEY_DELETED = Kind("key_deleted", "Access key deleted", "security_credentials", credentials=True)
KEY_ACTIVATED = Kind("key_activated", "Access key activated", "security_credentials", credentials=True)
KEY_DEACTIVATED = Kind("key_deactivated", "Access key deactivated", "security_credentials", credentials=True)
CONSOLE_ENABLED = Kind("console_enabled", "Console access enabled", "security_credentials", credentials=True)
CONSOLE_DISABLED = Kind("console_disabled", "Console access disabled", "security_credentials", credentials=True)
KINDS = {
    kind.key: kind
    for kind in (
        USER_CREATED,
        USER_DELETED,
        GROUP_ADDED,
        GROUP_REMOVED,
        POLICY_ATTACHED,
        POLICY_DETACHED,
        KEY_CREATED,
        KEY_DELETED,
        KEY_ACTIVATED,
        KEY_DEACTIVATED,
        CONSOLE_ENABLED,
        CONSOLE_DISABLED,
    )
}
_ORDER = {key: position for position, key in enumerate(KINDS)}

# The audited IAM operations (users/iam/gateway.py, MUTATING) that make these changes, each with
# the kind it explains (UpdateAccessKey: by its Status).
_EXPLAINS = {
    "CreateUser": USER_CREATED,
    "DeleteUser": USER_DELETED,
    "AddUserToGroup": GROUP_ADDED,
    "RemoveUserFromGroup": GROUP_REMOVED,
    "AttachUserPolicy": POLICY_ATTACHED,
    "PutUserPolicy": POLICY_ATTACHED,
    "DetachUserPolicy": POLICY_DETACHED,
    "DeleteUserPolicy": POLICY_DETACHED,
    "CreateAccessKey": KEY_CREATED,
    "DeleteAccessKey": KEY_DELETED,
    "UpdateAccessKey": KEY_ACTIVATED,
    "CreateLoginProfile": CONSOLE_ENABLED,
    "DeleteLoginProfile": CONSOLE_DISABLED,
}
EXPLAINING_ACTIONS = frozenset(_EXPLAINS)


@dataclass(frozen=True, slots=True)
class Change:
    """One change since the last visit. `key` names it across requests (its first-seen time is
    kept under it): kind, user, detail and, for a second identical one, its rank."""

    kind: Kind
    user: str
    detail: str = ""  # the group or policy name; an access key's creation time (ISO)
    key: str = ""
    first_seen: datetime | None = None

    @property
    def detail_time(self) -> datetime | None:
        """An access key's creation time (the credential report's last_rotated), if known."""
        if not self.kind.key.startswith("key_") or not self.detail:
            return None
        return datetime.fromisoformat(self.detail)


def state_of(index: Iterable[UserSummary], report: CredentialReport | None) -> State:
    """Every user of the index with its groups, policies and (from the report, when it has a
    line for the user) console password and access keys."""
    lines = report.users if report is not None else {}
    state: State = {}
    for user in index:
        line = lines.get(user.name)
        password = keys = None
        if line is not None:
            password = line.password_enabled
            keys = sorted([k.last_rotated.isoformat() if k.last_rotated else "", k.active] for k in line.access_keys)
        state[user.name] = [user.user_id, list(user.groups), sorted(user.policies), password, keys]
    return state


def complete(snapshot: State, current: State) -> bool:
    """Fill in, in `snapshot`, the passwords and keys it did not know (the user had no line in the
    report then) from `current`, for the same users: they are compared from now on. Whether any was."""
    filled = False
    for name, before in snapshot.items():
        now = current.get(name)
        if now is None or now[_ID] != before[_ID]:
            continue
        for field in (_PASSWORD, _KEYS):
            if before[field] is None and now[field] is not None:
                before[field] = now[field]
                filled = True
    return filled


def carried(snapshot: State, current: State) -> State:
    """`current` as the next snapshot: where it does not know a user's password or keys (no line in
    the report yet), what `snapshot` knew of the same user is kept."""
    result: State = {}
    for name, now in current.items():
        before = snapshot.get(name)
        if before is not None and before[_ID] == now[_ID]:
            now = [*now[:_PASSWORD], *(now[f] if now[f] is not None else before[f] for f in (_PASSWORD, _KEYS))]
        result[name] = now
    return result


def differences(snapshot: State, current: State) -> list[Change]:
    """The changes from `snapshot` to `current`, by user name, then kind. A deleted user is one
    change; a created one is compared with an empty user (its groups, policies, keys, password)."""
    found: list[tuple[Kind, str, str]] = []
    for name in snapshot.keys() - current.keys():
        found.append((USER_DELETED, name, ""))
    for name, now in current.items():
        before = snapshot.get(name)
        if before == now:  # most users: nothing to look into
            continue
        if before is not None and before[_ID] != now[_ID]:  # deleted, then created again
            found.append((USER_DELETED, name, ""))
            before = None
        if before is None:
            found.append((USER_CREATED, name, ""))
            before = _NEW_USER
        found += _members(name, before[_GROUPS], now[_GROUPS], GROUP_ADDED, GROUP_REMOVED)
        found += _members(name, before[_POLICIES], now[_POLICIES], POLICY_ATTACHED, POLICY_DETACHED)
        if before[_PASSWORD] is not None and now[_PASSWORD] is not None and before[_PASSWORD] != now[_PASSWORD]:
            found.append((CONSOLE_ENABLED if now[_PASSWORD] else CONSOLE_DISABLED, name, ""))
        if before[_KEYS] is not None and now[_KEYS] is not None and before[_KEYS] != now[_KEYS]:
            found += _key_changes(name, before[_KEYS], now[_KEYS])
    found.sort(key=lambda item: (item[1].casefold(), item[1], _ORDER[item[0].key], item[2]))
    ranks: Counter[tuple[str, str, str]] = Counter()
    changes = []
    for kind, user, detail in found:
        rank = ranks[kind.key, user, detail]
        ranks[kind.key, user, detail] += 1
        key = f"{kind.key}|{user}|{detail}" + (f"|{rank}" if rank else "")
        changes.append(Change(kind, user, detail, key))
    return changes


def _members(name: str, before: list[str], now: list[str], added: Kind, removed: Kind) -> list[tuple[Kind, str, str]]:
    """Groups or policies in one list and not the other (a policy name may be there twice:
    a managed and an inline one)."""
    old, new = Counter(before), Counter(now)
    return [(added, name, item) for item in sorted((new - old).elements())] + [
        (removed, name, item) for item in sorted((old - new).elements())
    ]


def _key_changes(name: str, before: list[list[Any]], now: list[list[Any]]) -> list[tuple[Kind, str, str]]:
    """Access keys, told apart by their creation time (the report has no key ids): a time only
    now is a key created, only before a key deleted, in both with another status a key
    activated or deactivated."""
    found: list[tuple[Kind, str, str]] = []
    old = Counter(created for created, _ in before)
    new = Counter(created for created, _ in now)
    for created in sorted(old.keys() | new.keys()):
        found += [(KEY_CREATED, name, created)] * max(0, new[created] - old[created])
        found += [(KEY_DELETED, name, created)] * max(0, old[created] - new[created])
        if old[created] == new[created]:
            active = sum(1 for when, on in now if when == created and on)
            was_active = sum(1 for when, on in before if when == created and on)
            kind = KEY_ACTIVATED if active > was_active else KEY_DEACTIVATED
            found += [(kind, name, created)] * abs(active - was_active)
    return found


@dataclass(frozen=True, slots=True)
class AuditedCall:
    """A successful audited call of the console, as the audit trail keeps it."""

    action: str
    target: str  # the user name (TARGET_PARAMETERS: UserName first)
    parameters: Mapping[str, Any]
    at: datetime


def explains(call: AuditedCall) -> tuple[str, str, str] | None:
    """What change a call makes: (kind, user, detail), the detail only for groups and policies."""
    kind = _EXPLAINS.get(call.action)
    if kind is None:
        return None
    if call.action == "UpdateAccessKey" and call.parameters.get("Status") != "Active":
        kind = KEY_DEACTIVATED
    detail = ""
    if kind.by_detail:
        parameters = call.parameters
        detail = str(parameters.get("GroupName") or parameters.get("PolicyName") or "")
        if "PolicyArn" in parameters:
            detail = str(parameters["PolicyArn"]).rpartition("/")[2]
    return kind.key, call.target, detail


def unexplained(
    changes: list[Change], calls: Iterable[AuditedCall], *, index_since: datetime, credentials_since: datetime
) -> list[Change]:
    """The changes the console did not make: each audited call since the snapshot (since its
    credential report, for keys and passwords) explains one change of its user and kind (and group
    or policy), at most."""
    budget: Counter[tuple[str, str, str]] = Counter()
    for call in calls:
        made = explains(call)
        if made is not None and call.at >= (credentials_since if KINDS[made[0]].credentials else index_since):
            budget[made] += 1
    left = []
    for change in changes:
        made = (change.kind.key, change.user, change.detail if change.kind.by_detail else "")
        if budget[made] > 0:
            budget[made] -= 1
        else:
            left.append(change)
    return left


def digest(changes: Iterable[Change]) -> str:
    """A short fingerprint of a list of changes (Mark as seen checks it is still the one shown)."""
    return hashlib.sha256("\n".join(sorted(change.key for change in changes)).encode()).hexdigest()[:32]


def pack(value: Any) -> bytes:
    """JSON, compressed: how states and first-seen times are stored."""
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)


def unpack(blob: bytes | memoryview | None) -> Any:
    """What `pack` stored (PostgreSQL hands a memoryview); {} for nothing. Without the garbage
    collector meanwhile: the tens of thousands of lists of 5,000 users' state would otherwise set
    off full collections, which cost several times the decoding itself (bench/drift.py)."""
    if not blob:
        return {}
    enabled = gc.isenabled()
    gc.disable()
    try:
        return json.loads(zlib.decompress(bytes(blob)))
    finally:
        if enabled:
            gc.enable()
