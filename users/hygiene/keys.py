"""Deactivating access keys in a job (the worker side): a `KeyPlan` per user, the keys of that
user to deactivate, run by users/tasks.py beside provisioning's user creation. A job item's
plan is one or the other; `is_key_plan` tells them apart and `step_names` lists either's steps.

Each key is one step, `UpdateAccessKey:<key id>`, and its result is one of the step's facts
(`note`): "Deactivated", "Already inactive" or "No longer exists". One ListAccessKeys for the
user first tells them apart (and spares IAM a call for a key already inactive). Safe to run
again after a partial failure: done keys are skipped, and deactivating a key is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from users.iam.errors import IamError, NoSuchEntity
from users.iam.gateway import IamGateway
from users.provisioning import RETRYABLE, Progress, UserPlan

PLAN_KIND = "deactivate_access_keys"
STEP = "UpdateAccessKey"
DEACTIVATED = "Deactivated"
ALREADY_INACTIVE = "Already inactive"
GONE = "No longer exists"


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """The access keys of one user to deactivate (ids only: a key's secret is never known)."""

    user_name: str
    key_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"user_name": self.user_name, PLAN_KIND: list(self.key_ids)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyPlan:
        return cls(user_name=data["user_name"], key_ids=tuple(data[PLAN_KIND]))

    def step_names(self) -> list[str]:
        return [f"{STEP}:{key_id}" for key_id in self.key_ids]


def is_key_plan(data: Mapping[str, Any]) -> bool:
    """Whether a job item's plan deactivates keys (else it is a `UserPlan`)."""
    return PLAN_KIND in data


def step_names(data: Mapping[str, Any]) -> list[str]:
    """The steps of a job item's plan, whichever kind it is, in the order they run."""
    return KeyPlan.from_json(data).step_names() if is_key_plan(data) else UserPlan.from_json(data).step_names()


def plans_for(selection: Mapping[str, Sequence[str]]) -> list[KeyPlan]:
    """One plan per user, from {user name: [key ids]}, in the selection's order."""
    return [KeyPlan(user, tuple(dict.fromkeys(ids))) for user, ids in selection.items() if ids]


def deactivate_access_keys(plan: KeyPlan, *, gateway: IamGateway, progress: Progress) -> bool:
    """Make each of the plan's keys that `progress` does not show as done inactive; True when
    all are. A key that is already inactive, or that IAM no longer has (deleted meanwhile, or
    its user), counts as done: it can no longer sign a request. A non-retryable `IamError`
    fails that key's step and the others still run (False); a `RETRYABLE` one fails the step
    and is re-raised for the task to retry with backoff, the keys done so far being kept."""
    todo = [step for step in plan.step_names() if not progress.is_done(step)]
    if not todo:
        return True
    try:
        statuses = {key.access_key_id: key.status for key in gateway.list_access_keys(plan.user_name)}
    except NoSuchEntity:
        statuses = {}  # the user is gone, and its keys with it
    except IamError as error:
        progress.fail(todo[0], error)
        if isinstance(error, RETRYABLE):
            raise
        return False
    all_done = True
    for step in todo:
        key_id = step.partition(":")[2]
        progress.start(step, durable=False)
        status = statuses.get(key_id)
        if status is None:
            progress.succeed(step, note=GONE)
            continue
        if status == "Inactive":
            progress.succeed(step, note=ALREADY_INACTIVE)
            continue
        try:
            gateway.update_access_key(plan.user_name, key_id, "Inactive")
        except NoSuchEntity:
            progress.succeed(step, note=GONE)
            continue
        except IamError as error:
            progress.fail(step, error)
            if isinstance(error, RETRYABLE):
                raise
            all_done = False
            continue
        progress.succeed(step, note=DEACTIVATED)
    return all_done
