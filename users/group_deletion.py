"""Deleting a user group as the console does: IAM's DeleteGroup refuses a group that still
has members, inline policies or attached policies, so they go first (API_DeleteGroup).

    outcome = delete_group(gateway, "Developers")
    outcome.deleted, outcome.steps  # each step: what was removed, or IAM's error

The steps and their reporting are those of users/deletion.py: it stops at the first failure,
something already gone counts as removed, and running it again carries on from there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

from users.deletion import Step, run_removals
from users.iam.gateway import IamGateway


@dataclass(slots=True)
class GroupDeletion:
    """What `delete_group` did for one group."""

    group_name: str
    steps: list[Step] = field(default_factory=list)
    deleted: bool = False
    already_gone: bool = False  # the group did not exist when we started


def delete_group(gateway: IamGateway, name: str) -> GroupDeletion:
    """Remove the group's members and policies, then the group; never raises `IamError`."""
    outcome = GroupDeletion(name)
    run_removals(outcome, name, _steps(gateway, name), last_action="DeleteGroup")
    return outcome


def _steps(gateway: IamGateway, name: str) -> Iterator[tuple[str, str, partial[None]]]:
    """The removals, each list read just before its items are removed."""
    g = gateway
    _, members = g.get_group(name)
    for user in members:
        yield "RemoveUserFromGroup", f"Member {user.name}", partial(g.remove_user_from_group, name, user.name)
    for policy_name in g.list_group_policy_names(name):
        yield "DeleteGroupPolicy", f"Inline policy {policy_name}", partial(g.delete_group_policy, name, policy_name)
    for policy in g.list_attached_group_policies(name):
        target = f"Policy {policy.name} (detached; the policy is kept)"
        yield "DetachGroupPolicy", target, partial(g.detach_group_policy, name, policy.arn)
    yield "DeleteGroup", f"User group {name}", partial(g.delete_group, name)
