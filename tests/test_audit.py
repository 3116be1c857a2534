"""The audit trail: what it records besides IAM calls (sign-ins, lockouts, refusals), that its
rows outlive their operator and cannot be changed, the admin's read-only view, the /audit/
page with its filters and paging at 100,000 rows, and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from users import audit
from users.models import AuditEvent, ImmutableAuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-operator-password"
AUDIT = reverse("users:audit")
EXPORT = reverse("users:audit_export")


def _event(action: str = "CreateUser", target: str = "arthur", outcome: str = "success", **fields) -> AuditEvent:
    return AuditEvent.objects.create(
        operator_name=fields.pop("operator_name", "alice"), action=action, target=target, outcome=outcome, **fields
    )


def _rows(response) -> list[tuple[str, str, str]]:
    return [(event.action, event.target, event.outcome) for event in response.context["page"]]


def _csv(response) -> list[list[str]]:
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def operator_with_password(operator: User) -> User:
    operator.set_password(PASSWORD)
    operator.save()
    return operator


# --- What is recorded ----------------------------------------------------------------------


def test_it_records_sign_in_and_sign_out_under_the_operators_name(client: Client, operator_with_password) -> None:
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    client.post("/logout/")

    rows = AuditEvent.objects.order_by("id").values_list("operator_name", "action", "target", "outcome")
    assert list(rows) == [("alice", "SignIn", "alice", "success"), ("alice", "SignOut", "alice", "success")]


def test_it_records_a_failed_sign_in_with_the_name_typed_and_never_the_password(
    client: Client, operator_with_password
) -> None:
    typed = "x" * 150  # the longest name the form takes to a password check
    client.post("/login/", {"username": typed, "password": "the-wrong-password-canary"})

    [row] = AuditEvent.objects.all()
    assert (row.operator_name, row.action, row.target, row.outcome) == ("", "SignInFailed", typed, "failure")
    assert "canary" not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_it_records_the_lockout(client: Client, operator_with_password) -> None:
    for _ in range(5):
        client.post("/login/", {"username": "alice", "password": "wrong"})

    actions = list(AuditEvent.objects.order_by("id").values_list("action", "target"))
    assert actions.count(("SignInFailed", "alice")) == 5
    assert ("LockedOut", "alice") in actions
    assert "wrong" not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_it_records_a_csrf_refusal_with_the_path(operator) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    url = reverse("users:password_policy_edit")
    assert client.post(url, {"policy": "default"}).status_code == 403

    row = AuditEvent.objects.get(action=audit.REFUSED)
    assert (row.operator_name, row.target, row.outcome, row.parameters["method"]) == ("alice", url, "failure", "POST")


# --- Rows outlive their operator and cannot be changed -------------------------------------


def test_it_keeps_the_operators_name_after_the_operator_is_deleted(operator) -> None:
    audit.record(operator=operator, action="CreateUser", target="arthur", parameters={}, outcome="success")
    operator.delete()

    assert AuditEvent.objects.get().operator_name == "alice"


def test_it_refuses_to_change_or_delete_a_row(operator) -> None:
    row = audit.record(operator=operator, action="CreateUser", target="arthur", parameters={}, outcome="success")

    with pytest.raises(ImmutableAuditEvent):
        AuditEvent.objects.filter(pk=row.pk).update(target="someone-else")
    with pytest.raises(ImmutableAuditEvent):
        AuditEvent.objects.all().delete()
    row.target = "someone-else"
    with pytest.raises(ImmutableAuditEvent):
        row.save()
    with pytest.raises(ImmutableAuditEvent):
        row.delete()
    assert list(AuditEvent.objects.values_list("target", flat=True)) == ["arthur"]


def test_the_admin_shows_rows_and_changes_none(django_user_model) -> None:
    admin = django_user_model.objects.create_superuser("root", password=PASSWORD)
    row = _event(target="arthur-in-admin")
    client = Client()
    client.force_login(admin)

    assert "arthur-in-admin" in client.get("/admin/users/auditevent/").content.decode()
    assert client.get("/admin/users/auditevent/add/").status_code == 403
    change = client.get(f"/admin/users/auditevent/{row.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    client.post(f"/admin/users/auditevent/{row.pk}/change/", {"target": "changed"})
    assert client.get(f"/admin/users/auditevent/{row.pk}/delete/").status_code == 403
    client.post("/admin/users/auditevent/", {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
    assert AuditEvent.objects.get(pk=row.pk).target == "arthur-in-admin"
    # The refused add, change and delete requests are themselves audited.
    assert AuditEvent.objects.filter(action=audit.REFUSED, operator_name="root").count() >= 3


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_in_the_operators_name() -> None:
    executor = MigrationExecutor(connection)
    before, after = [("users", "0004_list_preferences")], executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    bob = apps.get_model("auth", "User").objects.create(username="bob")
    apps.get_model("users", "AuditEvent").objects.create(operator=bob, action="CreateUser", outcome="success")
    apps.get_model("users", "AuditEvent").objects.create(operator=None, action="SignInFailed", outcome="failure")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    rows = AuditEvent.objects.order_by("id").values_list("operator_name", "action")
    assert list(rows) == [("bob", "CreateUser"), ("", "SignInFailed")]


# --- The page ------------------------------------------------------------------------------


def test_a_viewer_sees_the_page_newest_first(viewer_client: Client) -> None:
    _event(target="first")
    _event(target="second")

    response = viewer_client.get(AUDIT)
    assert response.status_code == 200
    assert [target for _, target, _ in _rows(response)] == ["second", "first"]
    assert 'href="/audit/"' in response.content.decode()  # in the navigation


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"target": "arthur"}, ["CreateUser arthur", "DeleteUser arthur"]),
        ({"action": "DeleteUser"}, ["DeleteUser arthur", "DeleteUser zoe"]),
        ({"outcome": "failure"}, ["DeleteUser zoe"]),
        ({"operator": "bob"}, ["DeleteUser zoe"]),
        ({"q": "throttl"}, ["DeleteUser zoe"]),
        ({"q": "ZOE"}, ["DeleteUser zoe"]),
        ({"start": "2026-01-02", "end": "2026-01-02"}, ["DeleteUser arthur"]),
        ({"start": "2026-01-02"}, ["DeleteUser zoe", "DeleteUser arthur"]),
        ({"end": "2026-01-01"}, ["CreateUser arthur"]),
        ({"target": "arthur", "action": "CreateUser"}, ["CreateUser arthur"]),
    ],
)
def test_it_filters(operator_client: Client, query, expected) -> None:
    day = datetime(2026, 1, 1, 12, tzinfo=UTC)
    for offset, (action, target, outcome, operator) in enumerate(
        [
            ("CreateUser", "arthur", "success", "alice"),
            ("DeleteUser", "arthur", "success", "alice"),
            ("DeleteUser", "zoe", "failure", "bob"),
        ]
    ):
        row = _event(
            action, target, outcome, operator_name=operator, error_code="Throttling" if operator == "bob" else ""
        )
        # `at` is the insert's time; the test moves it with the plain QuerySet's update().
        QuerySet.update(AuditEvent.objects.filter(pk=row.pk), at=day + timedelta(days=offset))

    response = operator_client.get(AUDIT, query)
    assert response.status_code == 200
    assert sorted(f"{action} {target}" for action, target, _ in _rows(response)) == sorted(expected)
    assert [f"{row[2]} {row[3]}" for row in _csv(operator_client.get(EXPORT, query))[1:]] == [
        f"{action} {target}" for action, target, _ in _rows(response)
    ]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"start": "yesterday"}, "start", "Enter a valid date."),
        ({"end": "2026-13-01"}, "end", "Enter a valid date."),
        ({"start": "2026-02-02", "end": "2026-02-01"}, "end", "The end date must not be before the start date."),
        ({"outcome": "maybe"}, "outcome", "Select a valid choice."),
        ({"target": "x" * 600}, "target", "Ensure this value has at most 512 characters"),
    ],
)
def test_bad_filters_are_shown_next_to_the_field(operator_client: Client, query, field, message) -> None:
    _event()
    for url in (AUDIT, EXPORT):
        response = operator_client.get(url, query)
        assert response.status_code == 400
        assert message in response.content.decode().split(f'data-testid="{field}-error">')[1]
        assert _rows(response) == []


def test_it_survives_odd_input(operator_client: Client) -> None:
    _event()
    for query in ({"page": "last"}, {"page": "-3"}, {"page": "99999"}, {"end": "9999-12-31"}, {"q": "%_\\"}):
        assert operator_client.get(AUDIT, query).status_code == 200


def _audit_queries(client: Client, query: dict[str, str]) -> tuple[Any, list[str]]:
    """The page's answer and the SQL it sent to the audit table."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(AUDIT, query)
    return response, [q["sql"] for q in queries.captured_queries if "users_auditevent" in q["sql"]]


def test_it_pages_100000_rows_with_three_queries(operator_client: Client) -> None:
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(operator_name="alice", action="CreateUser", target=f"user{i}", outcome="success")
            for i in range(100_000)
        ),
        batch_size=10_000,
    )
    _event(action="DeleteUser", target="user7")

    for query in ({}, {"page": "1001"}, {"target": "user7"}, {"action": "CreateUser", "page": "1000"}):
        response, sql = _audit_queries(operator_client, query)
        # COUNT, the actions offered in the filter, the page's rows (100 at most).
        assert len(sql) == 3, sql
        assert sum("COUNT(*)" in statement for statement in sql) == 1
        [limit] = [int(limit) for statement in sql for limit in re.findall(r"LIMIT (\d+)", statement)]
        assert 1 <= limit <= 100
        page = response.context["page"]
        if query == {}:
            assert page.paginator.num_pages == 1001
            assert _rows(response)[0] == ("DeleteUser", "user7", "success")
            assert 'aria-label="Last page"' in response.content.decode()
        elif query == {"page": "1001"}:
            assert _rows(response) == [("CreateUser", "user0", "success")]
        elif query == {"target": "user7"}:
            assert _rows(response) == [("DeleteUser", "user7", "success"), ("CreateUser", "user7", "success")]
        else:
            assert len(page) == 100 and page.paginator.num_pages == 1000


# --- The CSV export ------------------------------------------------------------------------


def test_the_export_escapes_formulas_and_holds_every_filtered_row(operator_client: Client) -> None:
    for i in range(250):
        _event(target=f"user{i}")
    _event(action="SignInFailed", target="=HYPERLINK(1)", outcome="failure", parameters={"ip": "127.0.0.1"})

    response = operator_client.get(EXPORT)
    assert response["Content-Disposition"] == 'attachment; filename="audit-events.csv"'
    lines = _csv(response)
    assert lines[0][:5] == ["Time (UTC)", "Operator", "Action", "Target", "Outcome"]
    assert len(lines) == 1 + 251
    assert lines[1][2:5] == ["SignInFailed", "'=HYPERLINK(1)", "failure"]
    assert json.loads(lines[1][8]) == {"ip": "127.0.0.1"}
    assert [line[3] for line in _csv(operator_client.get(EXPORT, {"outcome": "failure"}))[1:]] == ["'=HYPERLINK(1)"]


def test_the_user_page_links_to_the_users_audit_events(iam, operator_client: Client) -> None:
    iam.create_user("arthur")
    html = operator_client.get(reverse("users:detail", args=["arthur"])).content.decode()
    assert f'href="{AUDIT}?target=arthur"' in html
    assert "This user&#x27;s audit events" in html or "This user's audit events" in html
