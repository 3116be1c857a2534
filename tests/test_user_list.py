"""The users list: columns, search, paging, preferences, IAM calls (unit: Django test client,
moto's mock_aws)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.iam.models import AccessKeyLastUsed, IAMBackend, iam_backends

from tests.faults import inject
from users.iam import gateway
from users.iam.counter import CALLS
from users.models import DEFAULT_COLUMNS, ListPreferences

pytestmark = pytest.mark.django_db

URL = reverse("users:list")


@pytest.fixture(autouse=True)
def quick_report_polls(monkeypatch) -> None:
    """moto answers the first GenerateCredentialReport of an account with STARTED."""
    monkeypatch.setattr(gateway, "REPORT_POLL_SECONDS", 0)


def _moto_user(name: str):
    return iam_backends[DEFAULT_ACCOUNT_ID]["aws"].users[name]


def _days_ago(days: int) -> datetime:
    return utcnow() - timedelta(days=days)  # naive UTC, as moto keeps its dates


def _cells(response, name: str) -> dict[str, str]:
    """The text of one user's cells, by column key (several lines joined by " | ")."""
    row = next(row for row in response.context["rows"] if row.user.name == name)
    return {cell.column: " | ".join(cell.lines) or cell.text for cell in row.cells}


def _save(client, columns: list[str], per_page: int = 25):
    return client.post(URL, {"columns": columns, "per_page": per_page})


def test_it_shows_the_count_and_rows_of_users(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("trillian", path="/crew/")
    for group in ("Zeta", "alpha", "Beta"):
        iam.create_group(group)
        iam.add_user_to_group(group, "arthur")
    key = iam.create_access_key("trillian")

    response = operator_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'IAM users <span class="count">(2)</span>' in html
    assert _cells(response, "arthur")["groups"] == "alpha, Beta + 1 more"
    assert _cells(response, "trillian")["access_key_id"] == f"{key.access_key_id} (Active)"
    assert _cells(response, "trillian")["path"] == "/crew/"
    assert 'name="user" value="arthur" form="delete-users"' in html


def test_it_shows_the_aws_default_columns_in_order(iam, operator_client) -> None:
    html = operator_client.get(URL).content.decode()
    headers = [
        "User name",
        "Path",
        "Groups",
        "Last activity",
        "MFA",
        "Password age",
        "Console last sign-in",
        "Access key ID",
        "Active key age",
        "Access key last used",
    ]
    assert "".join(f'<th scope="col">{label}</th>' for label in headers) in html
    assert ">Created</th>" not in html


def test_it_shows_never_for_a_password_never_used_and_none_without_a_password(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=False)
    iam.create_user("ford")

    response = operator_client.get(URL)

    arthur, ford = _cells(response, "arthur"), _cells(response, "ford")
    assert (arthur["console_last_sign_in"], arthur["password_age"], arthur["last_activity"]) == (
        "Never",
        "Today",
        "Never",
    )
    assert (ford["console_last_sign_in"], ford["password_age"], ford["last_activity"]) == ("None", "None", "Never")


def test_it_shows_the_last_sign_in_as_a_date_and_the_password_age_in_days(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=False)
    signed_in = datetime(2026, 3, 14, 9, 26, 53)
    _moto_user("arthur").password_last_used = signed_in
    # When the password was set, as the embedded backend records it (users/iam/embedded/report.py).
    _moto_user("arthur").password_last_changed = _days_ago(40)

    response = operator_client.get(URL)

    cells = _cells(response, "arthur")
    assert cells["console_last_sign_in"] == "Mar 14, 2026"
    assert cells["password_age"] == "40 days"
    assert cells["last_activity"].endswith(" days ago")
    assert 'title="2026-03-14T09:26:53+00:00">Mar 14, 2026</span>' in response.content.decode()


def test_the_password_age_is_the_passwords_not_the_users(iam, operator_client) -> None:
    iam.create_user("arthur")
    _moto_user("arthur").create_date = _days_ago(40)
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=False)
    iam.create_user("ford")
    assert _cells(operator_client.get(URL), "arthur")["password_age"] == "Today"
    _moto_user("arthur").password_last_changed = _days_ago(3)
    iam.update_login_profile("arthur", reset_required=True)  # the password itself is kept
    cells = _cells(operator_client.get(URL, {"refresh": "1"}), "arthur")
    assert cells["password_age"] == "3 days" and cells["console_last_sign_in"] == "Never"
    assert _cells(operator_client.get(URL), "ford")["password_age"] == "None"


def test_it_shows_whether_mfa_is_active(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("ford")
    iam_backends[DEFAULT_ACCOUNT_ID]["aws"].enable_mfa_device("arthur", "GAHT12345678", "123456", "654321")

    response = operator_client.get(URL)

    assert (_cells(response, "arthur")["mfa"], _cells(response, "ford")["mfa"]) == ("Yes", "No")


def test_it_shows_key_ages_last_use_and_inactive_keys(iam, operator_client) -> None:
    iam.create_user("ford")
    old = iam.create_access_key("ford")
    new = iam.create_access_key("ford")
    iam.update_access_key("ford", new.access_key_id, "Inactive")
    first, second = _moto_user("ford").access_keys
    first.create_date, second.create_date = _days_ago(90), _days_ago(200)
    second.last_used = AccessKeyLastUsed(_days_ago(3), "s3", "us-east-1")

    response = operator_client.get(URL)

    cells = _cells(response, "ford")
    assert cells["access_key_id"] == f"{old.access_key_id} (Active) | {new.access_key_id} (Inactive)"
    assert cells["active_key_age"] == "90 days"  # the inactive key's age does not count
    assert cells["access_key_last_used"] == "3 days ago"
    assert cells["last_activity"] == "3 days ago"


def test_it_shows_never_for_unused_keys_and_a_dash_without_keys(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("ford")
    key = iam.create_access_key("ford")
    iam.update_access_key("ford", key.access_key_id, "Inactive")

    response = operator_client.get(URL)

    arthur, ford = _cells(response, "arthur"), _cells(response, "ford")
    assert (arthur["access_key_id"], arthur["active_key_age"], arthur["access_key_last_used"]) == ("None", "–", "–")
    assert (ford["active_key_age"], ford["access_key_last_used"]) == ("–", "Never")


def test_it_still_answers_with_a_note_while_the_credential_report_is_not_ready(
    iam, operator_client, monkeypatch
) -> None:
    iam.create_user("arthur")
    iam.create_access_key("arthur")
    monkeypatch.setattr(IAMBackend, "report_generated", lambda backend: False)  # moto: always STARTED

    with CALLS.measure() as calls:
        response = operator_client.get(URL)

    assert response.status_code == 200
    assert calls.by_operation["GenerateCredentialReport"] == gateway.REPORT_POLLS
    assert "IAM is still generating its credential report" in response.content.decode()
    cells = _cells(response, "arthur")
    assert {cells[key] for key in ("mfa", "password_age", "last_activity", "active_key_age")} == {"—"}
    assert cells["access_key_id"].endswith("(Active)")


def test_it_still_answers_when_iam_refuses_the_credential_report(iam, operator_client) -> None:
    iam.create_user("arthur")
    with inject(iam, "GetCredentialReport", "AccessDenied", status=403):
        response = operator_client.get(URL)
    assert response.status_code == 200
    assert "IAM did not give its credential report (AccessDenied)." in response.content.decode()
    assert _cells(response, "arthur")["mfa"] == "—"


def test_it_reads_a_credential_report_as_real_iam_writes_it(iam, monkeypatch) -> None:
    content = (
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
        "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
        "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
        "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
        "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
        "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
        "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,"
        "2026-11-01T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,"
        "N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        "arthur,arn:aws:iam::123456789012:user/arthur,2026-01-01T00:00:00+00:00,true,no_information,"
        "2026-01-02T00:00:00+00:00,N/A,false,false,2026-01-03T00:00:00+00:00,"
        "2026-02-01T08:00:00+00:00,us-east-1,s3,true,2026-03-01T00:00:00+00:00,N/A,N/A,N/A,"
        "false,N/A,false,N/A\n"
        "ford,arn:aws:iam::123456789012:user/ford,2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,"
        "true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    )
    monkeypatch.setattr(IAMBackend, "get_credential_report", lambda backend: content)

    report = iam.credential_report()

    assert sorted(report.users) == ["arthur", "ford"]
    arthur, ford = report.users["arthur"], report.users["ford"]
    assert (arthur.password_enabled, arthur.password_last_used) == (True, None)
    assert arthur.password_last_changed == datetime.fromisoformat("2026-01-02T00:00:00+00:00")
    assert [(key.active, key.last_rotated.month) for key in arthur.access_keys] == [(False, 1), (True, 3)]
    assert arthur.last_activity == datetime.fromisoformat("2026-02-01T08:00:00+00:00")
    assert (ford.password_enabled, ford.password_last_changed, ford.mfa_active, ford.access_keys) == (
        False,
        None,
        True,
        (),
    )


def test_it_shows_a_dash_for_a_user_newer_than_iams_report(iam, operator_client, monkeypatch) -> None:
    iam.create_user("arthur")
    real_report = IAMBackend.get_credential_report
    # Real IAM makes a new report at most every four hours: users created since are missing.
    monkeypatch.setattr(IAMBackend, "get_credential_report", lambda backend: real_report(backend).split("\n")[0])

    response = operator_client.get(URL)

    assert _cells(response, "arthur")["mfa"] == "—"
    assert (
        '<span class="text-nowrap" title="Not in IAM&#x27;s credential report yet">—</span>'
        in response.content.decode()
    )


def test_it_saves_the_columns_per_operator(iam, operator, operator_client, viewer_client) -> None:
    iam.create_user("arthur")

    response = _save(operator_client, ["mfa", "path", "created"], per_page=10)

    assert response.status_code == 302
    preferences = ListPreferences.objects.get(operator=operator)
    assert (preferences.columns, preferences.per_page) == (["mfa", "path", "created"], 10)
    mine = operator_client.get(URL)
    assert [column.key for column in mine.context["columns"]] == ["path", "mfa", "created"]
    assert list(_cells(mine, "arthur")) == ["path", "mfa", "created"]
    theirs = viewer_client.get(URL)
    assert [column.key for column in theirs.context["columns"]] == list(DEFAULT_COLUMNS)


def test_it_lets_a_viewer_choose_columns_and_read_the_list(iam, viewer_client) -> None:
    iam.create_user("arthur")
    _save(viewer_client, ["arn"])

    response = viewer_client.get(URL)

    assert response.status_code == 200
    assert _cells(response, "arthur") == {"arn": "arn:aws:iam::123456789012:user/arthur"}
    assert 'form="delete-users"' not in response.content.decode()


def test_it_ignores_unknown_column_names(iam, operator, operator_client) -> None:
    iam.create_user("arthur")
    _save(operator_client, ["mfa", "password", "<script>"])
    assert ListPreferences.objects.get(operator=operator).columns == ["mfa"]

    ListPreferences.objects.filter(operator=operator).update(columns=["nope", "arn"])
    assert list(_cells(operator_client.get(URL), "arthur")) == ["arn"]

    ListPreferences.objects.filter(operator=operator).update(columns={"not": "a list"})
    assert list(_cells(operator_client.get(URL), "arthur")) == list(DEFAULT_COLUMNS)


def test_it_refuses_a_page_size_it_does_not_offer(iam, operator, operator_client) -> None:
    response = _save(operator_client, ["mfa"], per_page=1000)
    assert response.status_code == 302
    assert not ListPreferences.objects.filter(operator=operator).exists()


def test_it_remembers_the_page_size_until_the_url_asks_for_another(iam, operator_client) -> None:
    for i in range(30):
        iam.create_user(f"user{i:02d}")
    _save(operator_client, list(DEFAULT_COLUMNS), per_page=10)

    assert len(operator_client.get(URL).context["rows"]) == 10
    assert len(operator_client.get(URL, {"per_page": 25}).context["rows"]) == 25


def test_it_skips_the_calls_of_hidden_columns(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_access_key("arthur")
    _save(operator_client, ["path", "groups"])

    with CALLS.measure() as calls:
        operator_client.get(URL)

    assert calls.by_operation["GetAccountAuthorizationDetails"] == 1
    assert not {"ListAccessKeys", "GenerateCredentialReport", "GetCredentialReport"} & set(calls.by_operation)


def test_it_searches_by_name_case_insensitively(iam, operator_client) -> None:
    for name in ("arthur", "ARTEMIS", "ford"):
        iam.create_user(name)

    rows = operator_client.get(URL, {"q": "art"}).context["rows"]

    assert sorted(row.user.name for row in rows) == ["ARTEMIS", "arthur"]


def test_it_finds_the_owner_of_an_access_key(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("ford")
    key = iam.create_access_key("ford")

    rows = operator_client.get(URL, {"q": key.access_key_id}).context["rows"]

    assert [row.user.name for row in rows] == ["ford"]


def test_it_says_when_nothing_matches(iam, operator_client) -> None:
    iam.create_user("arthur")
    response = operator_client.get(URL, {"q": "AKIAZZZZZZZZZZZZZZZZ"})
    assert "No users match" in response.content.decode()


def test_it_paginates_on_the_server(iam, operator_client) -> None:
    for i in range(30):
        iam.create_user(f"user{i:02d}")

    first = operator_client.get(URL, {"per_page": 10})
    third = operator_client.get(URL, {"per_page": 10, "page": 3})

    assert [row.user.name for row in first.context["rows"]] == [f"user{i:02d}" for i in range(10)]
    assert [row.user.name for row in third.context["rows"]] == [f"user{i:02d}" for i in range(20, 30)]
    assert 'href="?q=&per_page=10&page=2"' in first.content.decode()


def test_it_makes_the_same_iam_calls_for_5_and_60_users(iam, operator_client) -> None:
    iam.create_user("user-00")
    operator_client.get(URL)  # caches the account info; moto's first report answers STARTED
    for i in range(1, 5):
        iam.create_user(f"user-{i:02d}")
    with CALLS.measure() as five:
        operator_client.get(URL)
    for i in range(5, 60):
        iam.create_user(f"user-{i:02d}")
    with CALLS.measure() as sixty:
        operator_client.get(URL)

    # Each creation starts new cached reads: both pages read the index and the report afresh.
    once = {"GetAccountAuthorizationDetails": 1, "GenerateCredentialReport": 1, "GetCredentialReport": 1}
    five_calls, sixty_calls = five.by_operation, sixty.by_operation
    # ListAccessKeys for the users shown only: bounded by the page size (25).
    assert (five_calls.pop("ListAccessKeys"), sixty_calls.pop("ListAccessKeys")) == (5, 25)
    assert dict(five_calls) == dict(sixty_calls) == once


@pytest.mark.parametrize("bad", [{"per_page": "1000"}, {"page": "-1"}, {"page": "x"}, {"q": "x" * 500}])
def test_it_never_fails_on_odd_query_strings(iam, operator_client, bad) -> None:
    iam.create_user("arthur")
    assert operator_client.get(URL, bad).status_code == 200


def test_it_reads_the_users_index_once_until_the_console_changes_iam(iam, operator_client) -> None:
    iam.create_user("arthur")
    operator_client.get(URL)

    with CALLS.measure() as cached:
        operator_client.get(URL, {"page": "1"})
    iam.create_user("ford")  # a change through the console: a new index and report
    with CALLS.measure() as after_change:
        response = operator_client.get(URL)

    assert cached.total == 0  # the page's access keys too
    assert after_change.by_operation["ListAccessKeys"] == 2
    assert after_change.by_operation["GetAccountAuthorizationDetails"] == 1
    assert after_change.by_operation["GetCredentialReport"] == 1
    assert response.context["total"] == 2
    assert _cells(response, "ford")["mfa"] == "No"


def test_it_reads_iam_again_on_refresh(iam, operator_client) -> None:
    iam.create_user("arthur")
    operator_client.get(URL)
    with CALLS.measure() as calls:
        operator_client.get(URL, {"refresh": "1"})
    assert calls.by_operation["GetAccountAuthorizationDetails"] == 1
    assert calls.by_operation["GetCredentialReport"] == 1
    assert calls.by_operation["ListAccessKeys"] == 1
