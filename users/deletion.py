"""Deleting users as the console does: everything DeleteUser refuses to leave behind goes
first, then the user (FEATURES.md §4A; API_DeleteUser lists what must be removed).

    outcome = delete_user(gateway, "alice")
    outcome.deleted, outcome.steps  # each step: what was removed, or IAM's error

The order follows the API reference: console password, access keys, signing certificates, SSH
public keys, service-specific credentials, MFA devices (deactivated; virtual ones deleted),
inline policies, attached managed policies (the policies themselves are kept), group
memberships, and the user. It stops at the first failure, so the result says exactly what was
removed and what was not; running it again lists what is left and carries on, so nothing is
done twice. Something already gone (a race with another admin) counts as removed, and so does
the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from users.iam.errors import IamError, NoSuchEntity
from users.iam.gateway import IamGateway

# A step: the IAM action, what it removes (in the console's words), and the call.
_Step = tuple[str, str, Callable[[], object]]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Step:
    """One removal, done (`error` None) or failed with IAM's error."""

    action: str
    target: str
    error: IamError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class UserDeletion:
    """What `delete_user` did for one user."""

    user_name: str
    steps: list[Step] = field(default_factory=list)
    deleted: bool = False
    already_gone: bool = False  # the user did not exist when we started

    @property
    def failed_step(self) -> Step | None:
        return next((step for step in self.steps if not step.ok), None)


class Deletion(Protocol):
    """What `run_removals` records: `UserDeletion`, `group_deletion.GroupDeletion`."""

    steps: list[Step]
    deleted: bool
    already_gone: bool


def delete_user(gateway: IamGateway, name: str) -> UserDeletion:
    """Remove everything attached to the user, then the user; never raises `IamError`."""
    outcome = UserDeletion(name)
    run_removals(outcome, name, _steps(gateway, name), last_action="DeleteUser")
    return outcome


def run_removals(outcome: Deletion, name: str, steps: Iterator[_Step], *, last_action: str) -> None:
    """Make `steps` (action, target, call) in order, recording each in `outcome`, until one
    fails; `name` is deleted once `last_action` succeeds, or when a listing no longer finds
    it. Never raises `IamError`."""
    while True:
        try:
            action, target, call = next(steps)
        except StopIteration:
            return
        except NoSuchEntity:  # a listing found no such entity: deleted before us, or meanwhile
            outcome.deleted, outcome.already_gone = True, not outcome.steps
            return
        except IamError as error:  # a listing failed (AccessDenied, throttled for too long...)
            outcome.steps.append(Step(error.operation or "List", f"what {name} still has", error))
            return
        try:
            call()
        except NoSuchEntity:
            pass  # removed meanwhile by someone else: the goal is reached
        except IamError as error:
            outcome.steps.append(Step(action, target, error))
            return
        outcome.steps.append(Step(action, target))
        outcome.deleted = action == last_action


def _steps(gateway: IamGateway, name: str) -> Iterator[_Step]:
    """The removals, each list read just before its items are removed."""
    g = gateway
    if g.get_login_profile(name) is not None:
        yield "DeleteLoginProfile", "Console password", lambda: g.delete_login_profile(name)
    yield from _each(
        g.list_access_keys(name), "DeleteAccessKey",
        lambda key: f"Access key {key.access_key_id}",
        lambda key: g.delete_access_key(name, key.access_key_id),
    )  # fmt: skip
    yield from _each(
        g.list_signing_certificates(name), "DeleteSigningCertificate",
        lambda cert: f"Signing certificate {cert.certificate_id}",
        lambda cert: g.delete_signing_certificate(name, cert.certificate_id),
    )  # fmt: skip
    yield from _each(
        g.list_ssh_public_keys(name), "DeleteSSHPublicKey",
        lambda key: f"SSH public key {key.key_id}",
        lambda key: g.delete_ssh_public_key(name, key.key_id),
    )  # fmt: skip
    yield from _each(
        g.list_service_specific_credentials(name), "DeleteServiceSpecificCredential",
        lambda cred: f"{cred.service_name} credential {cred.service_user_name}",
        lambda cred: g.delete_service_specific_credential(name, cred.credential_id),
    )  # fmt: skip
    devices = g.list_mfa_devices(name)
    yield from _each(
        devices, "DeactivateMFADevice",
        lambda device: f"MFA device {device.serial_number}",
        lambda device: g.deactivate_mfa_device(name, device.serial_number),
    )  # fmt: skip
    yield from _each(
        [device for device in devices if device.is_virtual], "DeleteVirtualMFADevice",
        lambda device: f"Virtual MFA device {device.serial_number}",
        lambda device: g.delete_virtual_mfa_device(device.serial_number),
    )  # fmt: skip
    yield from _each(
        g.list_user_policy_names(name), "DeleteUserPolicy",
        lambda policy_name: f"Inline policy {policy_name}",
        lambda policy_name: g.delete_user_policy(name, policy_name),
    )  # fmt: skip
    yield from _each(
        g.list_attached_user_policies(name), "DetachUserPolicy",
        lambda policy: f"Policy {policy.name} (detached; the policy is kept)",
        lambda policy: g.detach_user_policy(name, policy.arn),
    )  # fmt: skip
    yield from _each(
        g.list_groups_for_user(name), "RemoveUserFromGroup",
        lambda group: f"Membership of group {group.name}",
        lambda group: g.remove_user_from_group(group.name, name),
    )  # fmt: skip
    yield "DeleteUser", f"User {name}", lambda: g.delete_user(name)


def _each(
    items: Iterable[_T], action: str, describe: Callable[[_T], str], remove: Callable[[_T], object]
) -> Iterator[_Step]:
    for item in items:
        yield action, describe(item), partial(remove, item)
