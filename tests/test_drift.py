"""Changes since your last visit (users/drift/): changes made in IAM outside the console are listed
with a link and when first seen, those made through the console (audited) are not; Mark as seen
moves the baseline; the navigation's badge counts them without calling IAM; 5,000 users cost the
same account-wide reads as the Users list, never a call per user.

"Outside the console" here is a plain boto3 client on moto's in-process IAM (the `iam` fixture's
mock): it writes no audit row, as another tool would not."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from django.test import Client
from django.urls import reverse
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

from iamconsole.cache_outage import tolerant_cache
from users.drift import changes as drift_changes
from users.drift import visits
from users.iam.counter import CALLS
from users.iam.gateway import IamGateway
from users.iam.types import CredentialReport, ReportedAccessKey, UserCredentials, UserSummary
from users.models import AuditEvent, DriftVisit

DRIFT = reverse("users:drift")
SEEN = reverse("users:drift_seen")
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
INLINE = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}'


def _direct() -> Any:
    """IAM without the console: no gateway, no audit row."""
    return boto3.client("iam", region_name="us-east-1")


def _rows(client: Client, query: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(user, change, details) of each row of the page, in its order; ?refresh reads IAM again."""
    response = client.get(DRIFT, {"refresh": "1", **(query or {})})
    assert response.status_code == 200
    return [(c.user, c.kind.label, c.detail) for c in response.context["page"]]


def _badge(client: Client, url: str = "/audit/") -> str | None:
    match = re.search(r'data-testid="drift-badge">(\d+)<', client.get(url).content.decode())
    return match.group(1) if match else None


def _forget_badges() -> None:
    """As if BADGE_SECONDS had passed."""
    for visit in DriftVisit.objects.all():
        tolerant_cache.delete(visits._badge_keys(visit.operator, IamGateway.from_settings())[0])


def test_it_takes_a_baseline_on_the_first_visit_and_lists_nothing(iam: IamGateway, operator_client: Client) -> None:
    iam.create_user("arthur")
    response = operator_client.get(DRIFT)
    page = response.content.decode()
    assert response.status_code == 200
    assert "This is your first visit: the console has taken a baseline of the 1 user in IAM now." in page
    assert "Nothing to list yet." in page
    assert DriftVisit.objects.count() == 1
    assert _rows(operator_client) == []
    assert "No changes outside the console since your last visit." in operator_client.get(DRIFT).content.decode()


def test_it_lists_each_change_made_outside_the_console_with_a_link(iam: IamGateway, operator_client: Client) -> None:
    iam.create_group("Developers")
    iam.create_group("Admins")
    iam.create_user("arthur")
    iam.add_user_to_group("Admins", "arthur")
    iam.create_login_profile("arthur", "Correct-Horse-9!", reset_required=False)
    iam.attach_user_policy("arthur", READ_ONLY_POLICY)
    old_key = iam.create_access_key("arthur")
    iam.create_user("zaphod")
    operator_client.get(DRIFT)  # the baseline

    direct = _direct()
    direct.create_user(UserName="ford")
    direct.add_user_to_group(GroupName="Developers", UserName="ford")
    direct.remove_user_from_group(GroupName="Admins", UserName="arthur")
    direct.add_user_to_group(GroupName="Developers", UserName="arthur")
    direct.detach_user_policy(UserName="arthur", PolicyArn=READ_ONLY_POLICY)
    direct.put_user_policy(UserName="arthur", PolicyName="inline-s3", PolicyDocument=INLINE)
    direct.delete_login_profile(UserName="arthur")
    direct.update_access_key(UserName="arthur", AccessKeyId=old_key.access_key_id, Status="Inactive")
    new_key = direct.create_access_key(UserName="ford")["AccessKey"]
    direct.delete_user(UserName="zaphod")

    rows = _rows(operator_client)
    assert sorted(rows) == sorted(
        [
            ("arthur", "Added to group", "Developers"),
            ("arthur", "Removed from group", "Admins"),
            ("arthur", "Policy attached", "inline-s3"),
            ("arthur", "Policy detached", "ReadOnlyAccess"),
            ("arthur", "Access key deactivated", old_key.created.replace(microsecond=0).isoformat()),
            ("arthur", "Console access disabled", ""),
            ("ford", "User created", ""),
            ("ford", "Added to group", "Developers"),
            ("ford", "Access key created", new_key["CreateDate"].astimezone(UTC).replace(microsecond=0).isoformat()),
            ("zaphod", "User deleted", ""),
        ]
    )
    page = operator_client.get(DRIFT).content.decode()
    assert 'href="/users/details/ford/"' in page
    assert 'href="/users/details/arthur/?section=groups"' in page
    assert 'href="/users/details/arthur/?section=security_credentials"' in page
    assert 'href="/groups/Developers/"' in page
    assert 'href="/users/?q=zaphod"' in page  # a deleted user: the users list
    assert 'data-testid="drift-count">(10)' in page


def test_it_leaves_out_what_the_console_changed(iam: IamGateway, operator_client: Client) -> None:
    iam.create_group("Developers")
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Correct-Horse-9!", reset_required=False)
    operator_client.get(DRIFT)

    # Through the console (the gateway audits each call), also a whole new user.
    iam.create_user("ford")
    iam.add_user_to_group("Developers", "ford")
    iam.attach_user_policy("ford", READ_ONLY_POLICY)
    iam.create_access_key("ford")
    iam.create_login_profile("ford", "Correct-Horse-9!", reset_required=True)
    key = iam.create_access_key("arthur")
    iam.update_access_key("arthur", key.access_key_id, "Inactive")
    iam.delete_login_profile("arthur")
    # Outside it: the same kinds of change, other groups or users.
    iam.create_group("Admins")
    _direct().add_user_to_group(GroupName="Admins", UserName="ford")

    assert _rows(operator_client) == [("ford", "Added to group", "Admins")]


def test_an_audited_call_explains_one_change_only(iam: IamGateway, operator_client: Client) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    iam.create_access_key("arthur")  # the console's
    time.sleep(1.1)  # the report tells keys apart by their creation second
    _direct().create_access_key(UserName="arthur")  # and another one, elsewhere

    rows = _rows(operator_client)
    assert [row[:2] for row in rows] == [("arthur", "Access key created")]


def test_a_failed_console_call_explains_nothing(iam: IamGateway, operator_client: Client) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    AuditEvent.objects.create(
        operator_name="alice", action="CreateUser", target="ford", outcome=AuditEvent.Outcome.FAILURE
    )
    _direct().create_user(UserName="ford")
    assert _rows(operator_client) == [("ford", "User created", "")]


def test_it_remembers_when_each_change_was_first_seen(
    iam: IamGateway, operator_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    _direct().create_user(UserName="ford")
    first = operator_client.get(DRIFT, {"refresh": "1"}).context["page"][0].first_seen

    later = time.time() + 600
    monkeypatch.setattr("users.drift.visits.time", SimpleNamespace(time=lambda: later))  # its clock only
    _direct().create_user(UserName="marvin")
    page = operator_client.get(DRIFT, {"refresh": "1"}).context["page"]
    seen = {change.user: change.first_seen for change in page}
    assert seen["ford"] == first  # kept across requests
    assert seen["marvin"] == datetime.fromtimestamp(later, UTC)
    assert [change.user for change in page] == ["marvin", "ford"]  # newest first


def test_mark_as_seen_moves_the_baseline(iam: IamGateway, operator_client: Client) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    _direct().create_user(UserName="ford")
    shown = operator_client.get(DRIFT, {"refresh": "1"}).context["drift"].digest

    response = operator_client.post(SEEN, {"shown": shown}, follow=True)
    assert "Marked as seen" in response.content.decode()
    assert _rows(operator_client) == []
    assert DriftVisit.objects.get().pending_count == 0
    _direct().delete_user(UserName="ford")
    assert _rows(operator_client) == [("ford", "User deleted", "")]


def test_mark_as_seen_refuses_a_list_that_is_no_longer_current(iam: IamGateway, operator_client: Client) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    _direct().create_user(UserName="ford")
    shown = operator_client.get(DRIFT, {"refresh": "1"}).context["drift"].digest
    _direct().create_user(UserName="marvin")
    iam.user_index(fresh=True)  # the console reads IAM again meanwhile

    response = operator_client.post(SEEN, {"shown": shown}, follow=True)
    assert "More changes arrived while you were looking" in response.content.decode()
    assert sorted(_rows(operator_client)) == [("ford", "User created", ""), ("marvin", "User created", "")]
    assert operator_client.post(SEEN, {"shown": "forged"}).status_code == 302
    assert len(_rows(operator_client)) == 2


def test_each_operator_has_their_own_last_visit(
    iam: IamGateway, operator_client: Client, viewer_client: Client
) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    viewer_client.get(DRIFT)
    _direct().create_user(UserName="ford")
    shown = operator_client.get(DRIFT, {"refresh": "1"}).context["drift"].digest
    operator_client.post(SEEN, {"shown": shown})

    assert _rows(operator_client) == []
    assert _rows(viewer_client) == [("ford", "User created", "")]  # viewers read it, and mark it too
    shown = viewer_client.get(DRIFT).context["drift"].digest
    assert viewer_client.post(SEEN, {"shown": shown}).status_code == 302
    assert _rows(viewer_client) == []


def test_mark_as_seen_is_post_only(iam: IamGateway, operator_client: Client) -> None:
    assert operator_client.get(SEEN).status_code == 405


def test_the_badge_counts_changes_without_calling_iam(iam: IamGateway, operator_client: Client) -> None:
    iam.create_user("arthur")
    assert _badge(operator_client) is None  # no visit yet: no badge
    operator_client.get(DRIFT)
    _direct().create_user(UserName="ford")
    _direct().create_user(UserName="marvin")
    operator_client.get(reverse("users:list"), {"refresh": "1"})  # the index and report, cached
    _forget_badges()

    with CALLS.measure() as calls:
        assert _badge(operator_client) == "2"
    assert calls.total == 0
    assert DriftVisit.objects.get().pending_count == 2  # first seen by the badge

    # Nothing cached (a new generation): the count last made, still no IAM call.
    iam.create_user("trillian")
    _forget_badges()
    with CALLS.measure() as calls:
        assert _badge(operator_client, "/jobs/") == "2"
    assert calls.total == 0

    shown = operator_client.get(DRIFT).context["drift"].digest
    operator_client.post(SEEN, {"shown": shown})
    assert _badge(operator_client) is None


def test_the_badge_is_counted_at_most_every_badge_seconds(iam: IamGateway, operator_client: Client) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    _direct().create_user(UserName="ford")
    operator_client.get(reverse("users:list"), {"refresh": "1"})
    assert _badge(operator_client) is None  # 0, counted by the drift page a moment ago
    _forget_badges()
    assert _badge(operator_client) == "1"


def test_a_page_is_served_without_its_badge_when_counting_fails(
    iam: IamGateway, operator_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    _direct().create_user(UserName="ford")
    operator_client.get(reverse("users:list"), {"refresh": "1"})
    _forget_badges()

    def fail(self: IamGateway) -> None:
        raise RuntimeError("the cache is gone")

    monkeypatch.setattr(IamGateway, "cached_user_index", fail)
    response = operator_client.get("/audit/")
    assert response.status_code == 200
    assert 'data-testid="drift-badge"' not in response.content.decode()


def test_a_visit_is_per_iam(iam: IamGateway, operator_client: Client, settings) -> None:
    iam.create_user("arthur")
    operator_client.get(DRIFT)
    settings.IAM_ASSUME_ROLE_ARN = "arn:aws:iam::123456789012:role/Other"
    assert visits.scope() != DriftVisit.objects.get().scope


# --- The pure part -------------------------------------------------------------------------


def _summary(name: str, groups: tuple[str, ...] = (), policies: tuple[str, ...] = (), uid: str = "") -> UserSummary:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return UserSummary(
        name, uid or f"AIDA{name.upper()}", f"arn:aws:iam::123456789012:user/{name}", "/", created, groups, policies
    )


def _line(name: str, password: bool = False, keys: tuple[tuple[int, bool], ...] = ()) -> UserCredentials:
    reported = tuple(
        ReportedAccessKey(active, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=second), None)
        for second, active in keys
    )
    return UserCredentials(name, password, None, None, False, reported)


def _report(*lines: UserCredentials) -> CredentialReport:
    return CredentialReport(datetime(2026, 1, 2, tzinfo=UTC), {line.name: line for line in lines})


def test_it_tells_access_keys_apart_by_creation_time() -> None:
    before = drift_changes.state_of([_summary("a")], _report(_line("a", keys=((1, True), (2, True)))))
    after = drift_changes.state_of([_summary("a")], _report(_line("a", keys=((2, False), (3, True)))))
    found = [(c.kind.key, c.detail[-8:-6]) for c in drift_changes.differences(before, after)]
    assert sorted(found) == [("key_created", "03"), ("key_deactivated", "02"), ("key_deleted", "01")]


def test_a_user_deleted_and_created_again_is_both() -> None:
    before = drift_changes.state_of([_summary("a", groups=("g",))], _report(_line("a")))
    after = drift_changes.state_of([_summary("a", uid="AIDANEW")], _report(_line("a")))
    assert [c.kind.key for c in drift_changes.differences(before, after)] == ["user_created", "user_deleted"]


def test_keys_and_passwords_not_in_the_report_are_compared_once_they_are() -> None:
    baseline = drift_changes.state_of([_summary("a")], None)  # no report yet
    current = drift_changes.state_of([_summary("a")], _report(_line("a", password=True)))
    assert drift_changes.differences(baseline, current) == []
    assert drift_changes.complete(baseline, current)
    later = drift_changes.state_of([_summary("a")], _report(_line("a", password=False)))
    assert [c.kind.key for c in drift_changes.differences(baseline, later)] == ["console_disabled"]
    # The next snapshot keeps what a report without the user's line does not say.
    assert drift_changes.carried(later, drift_changes.state_of([_summary("a")], None)) == later


def _many(count: int) -> list[UserSummary]:
    return [_summary(f"user-{i:05d}", groups=("Developers",), policies=("ReadOnlyAccess",)) for i in range(count)]


def test_it_diffs_5000_users_in_memory() -> None:
    index = _many(5000)
    report = _report(*(_line(user.name, password=True, keys=((1, True),)) for user in index))
    before = drift_changes.state_of(index, report)
    changed = [
        _summary(u.name, groups=("Admins",), policies=u.policies) if i % 10 == 0 else u for i, u in enumerate(index)
    ]
    after = drift_changes.state_of(changed, report)
    found = drift_changes.differences(before, after)
    assert len(found) == 1000  # 500 users: added to Admins, removed from Developers
    assert len(drift_changes.pack(before)) < 100_000  # compact: stored per operator


def test_5000_users_cost_the_users_lists_reads_and_no_call_per_user(iam: IamGateway, operator_client: Client) -> None:
    backend = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_group("Developers")
    for i in range(5000):
        backend.create_user("us-east-1", f"user-{i:05d}")
    operator_client.get(DRIFT)  # the baseline; moto's first report answers STARTED
    for i in range(0, 5000, 50):  # 100 users changed outside the console
        backend.add_user_to_group("Developers", f"user-{i:05d}")
        backend.create_access_key(f"user-{i:05d}")

    with CALLS.measure() as calls:
        response = operator_client.get(DRIFT, {"refresh": "1"})
    # One GetAccountAuthorizationDetails per 1,000 users, one report: as the Users list.
    assert set(calls.by_operation) == {
        "GetAccountAuthorizationDetails",
        "GenerateCredentialReport",
        "GetCredentialReport",
    }
    assert calls.by_operation["GetAccountAuthorizationDetails"] <= 5
    assert calls.by_operation["GetCredentialReport"] == 1
    assert response.context["drift"].users == 5000
    assert len(response.context["drift"].changes) == 200
    assert len(response.context["page"]) == 100  # a page at a time
    _forget_badges()
    with CALLS.measure() as calls:
        assert _badge(operator_client) == "200"
    assert calls.total == 0
