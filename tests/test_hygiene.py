"""The access-key hygiene page (issue 17, users/hygiene/, users/views/hygiene.py): the report
read from IAM's credential report alone (no per-user call to view it), its thresholds, the CSV,
who may deactivate, the confirmation that reads the selected keys' ids, a row's Rotate, and
the job that deactivates keys (run through the task's own function
here; tests/integration/test_hygiene_worker.py runs it on a real worker). IAM is moto's
in-process `mock_aws` (the `iam` fixture)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from django.test import Client
from django.urls import reverse
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import AccessKeyLastUsed, IAMBackend, iam_backends

from tests.faults import inject
from users import jobs
from users.forms.hygiene import confirmed_key_ids, selected_keys
from users.hygiene import keys as key_jobs
from users.hygiene.deactivation import start_deactivation
from users.hygiene.report import CSV_HEADER, ReportedKey, hygiene_csv, hygiene_report, match_keys
from users.iam.counter import CALLS
from users.iam.embedded.report import HEADER
from users.iam.errors import ReadOnlyConsole
from users.iam.gateway import IamGateway
from users.iam.types import AccessKey, parse_credential_report
from users.models import AuditEvent, Job, JobItem
from users.provisioning import UserPlan
from users.tasks import run_job_items
from users.views import hygiene as hygiene_views

URL = reverse("users:hygiene")
# The credential report's read: GenerateCredentialReport (again while IAM is making it), one Get.
REPORT_CALLS = {"GenerateCredentialReport", "GetCredentialReport"}
EXPORT = reverse("users:hygiene_export")
DEACTIVATE = reverse("users:hygiene_deactivate")
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def queue_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker answers (unit tests never reach it: on_commit does not fire in them)."""
    monkeypatch.setattr(jobs, "check_queue", lambda: None)


def _line(user: str, *, password: str = "false", used: str = "N/A", mfa: str = "false", keys=()) -> str:
    """One credential report line; `keys`: (active, last rotated, last used) for up to two keys."""
    cells = [user, f"arn:aws:iam::123456789012:user/{user}", "2020-01-01T00:00:00+00:00", password, used]
    cells += ["2020-01-01T00:00:00+00:00" if password == "true" else "N/A", "N/A", mfa]
    for active, rotated, last_used in [*keys, *[("false", "N/A", "N/A")] * (2 - len(keys))]:
        cells += [active, rotated, last_used, "N/A", "N/A"]
    return ",".join([*cells, "false", "N/A", "false", "N/A"]) + "\n"


def _report(*lines: str):
    return parse_credential_report((HEADER + "".join(lines)).encode(), NOW)


def _iso(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def _moto_user(name: str) -> Any:
    return iam_backends[DEFAULT_ACCOUNT_ID]["aws"].users[name]


def _days_ago(days: int) -> datetime:
    return datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)


def text(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


# --- The report ------------------------------------------------------------------------------


def test_it_finds_old_unused_and_never_used_keys_and_console_users_without_mfa() -> None:
    report = _report(
        _line("old", keys=[("true", _iso(200), _iso(1))]),  # old, used yesterday
        _line("idle", keys=[("true", _iso(30), "N/A"), ("true", _iso(120), _iso(100))]),  # new + unused
        _line("never", keys=[("true", _iso(95), "N/A")]),  # old and never used
        _line("fresh", password="true", mfa="true", keys=[("true", _iso(10), _iso(1))]),
        _line("inactive", keys=[("false", _iso(400), "N/A")]),  # inactive keys are not listed
        _line("nomfa", password="true", used=_iso(3)),
        _line("nopassword"),
    )

    found = hygiene_report(report, days=90, now=NOW)

    rows = {(row.user_name, row.slot): row for row in found.stale_keys}
    assert sorted(rows) == [("idle", 2), ("never", 1), ("old", 1)]
    assert [row.user_name for row in found.stale_keys] == ["old", "idle", "never"]  # oldest first
    assert (rows["old", 1].old, rows["old", 1].unused, rows["old", 1].reasons) == (True, False, ["200 days old"])
    assert rows["idle", 2].reasons == ["120 days old", "unused for 100 days"]
    assert rows["never", 1].reasons == ["95 days old", "never used"]
    assert [(user.user_name, user.password_last_used) for user in found.without_mfa] == [
        ("nomfa", NOW - timedelta(days=3))
    ]


def test_the_threshold_is_a_number_of_days_counted_exactly() -> None:
    report = _report(
        _line("edge", keys=[("true", _iso(90), _iso(89.9))]), _line("past", keys=[("true", _iso(90.01), _iso(1))])
    )
    assert [row.user_name for row in hygiene_report(report, days=90, now=NOW).stale_keys] == ["past"]
    assert [row.user_name for row in hygiene_report(report, days=30, now=NOW).stale_keys] == ["past", "edge"]
    unused = hygiene_report(report, days=89, now=NOW).stale_keys
    assert {(row.user_name, row.unused) for row in unused} == {("edge", True), ("past", False)}


def test_it_matches_reported_keys_to_iams_by_creation_time() -> None:
    created = NOW - timedelta(days=100)
    wanted = [
        ReportedKey("ford", 1, created),
        ReportedKey("ford", 2, created + timedelta(days=5)),
        ReportedKey("gone", 1, created),
    ]
    keys = {
        "ford": [
            AccessKey("AKIAFORDSECOND00000", "Inactive", created + timedelta(days=5, seconds=0.4)),
            AccessKey("AKIAFORDFIRST000000", "Active", created + timedelta(seconds=0.6)),
        ],
        "gone": [AccessKey("AKIAGONENEWER000000", "Active", created + timedelta(days=2))],
    }

    matched = match_keys(wanted, keys)

    assert [(key.key_id, key.status, key.deactivatable) for key in matched] == [
        ("AKIAFORDFIRST000000", "Active", True),
        ("AKIAFORDSECOND00000", "Inactive", False),
        ("", "", False),  # deleted since the report: a newer key is not taken for it
    ]


def test_the_csv_lists_every_finding_with_its_reason_and_escapes_formulas() -> None:
    report = _report(
        _line("=cmd|calc", keys=[("true", _iso(100), "N/A")]),
        _line("nomfa", password="true", used="no_information"),
    )

    lines = list(hygiene_csv(hygiene_report(report, days=90, now=NOW)))

    assert lines[0] == ",".join(CSV_HEADER) + "\n"
    reason = '"100 days old; never used (threshold 90 days)"'
    assert lines[1] == f'"\'=cmd|calc",Stale access key,access_key_1,{_iso(100)},Never,{reason}\n'
    assert lines[2] == 'nomfa,Console access without MFA,,,Never,"console password enabled, no MFA device"\n'
    assert len(lines) == 3


def test_a_deactivate_selection_names_keys_as_the_report_does_and_its_ids_stay_with_its_users() -> None:
    values = ["ford:1:2026-01-02T03:04:05Z", "ford:2:2026-02-02T03:04:05Z", "ann@x.org:1:2025-12-31T23:59:59Z"]
    selection = selected_keys([*values, values[0]], limit=5)
    assert [(key.user_name, key.slot, key.created) for key in selection] == [
        ("ford", 1, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("ford", 2, datetime(2026, 2, 2, 3, 4, 5, tzinfo=UTC)),
        ("ann@x.org", 1, datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ]
    assert [key.reference for key in selection] == values
    bad_values = [
        "ford", "ford:1", "ford:3:2026-01-02T03:04:05Z", "ford:01:2026-01-02T03:04:05Z", "ford:1:2026-01-02",
        "ford:1:2026-13-02T03:04:05Z", "ford:1:2026-01-02T03:04:05+00:00", "bad name:1:2026-01-02T03:04:05Z",
        ":1:2026-01-02T03:04:05Z", "ford:AKIAAAAAAAAAAAAAAAAA",
    ]  # fmt: skip
    for bad in bad_values:
        with pytest.raises(ValueError):
            selected_keys([bad], limit=5)
    with pytest.raises(ValueError):
        selected_keys(values, limit=2)

    ids = ["ford:AKIAAAAAAAAAAAAAAAAA", "ann@x.org:AKIACCCCCCCCCCCCCCCC", "ford:AKIABBBBBBBBBBBBBBBB"]
    assert confirmed_key_ids([*ids, ids[0]], selection) == {
        "ford": ["AKIAAAAAAAAAAAAAAAAA", "AKIABBBBBBBBBBBBBBBB"],
        "ann@x.org": ["AKIACCCCCCCCCCCCCCCC"],
    }
    for forged in (
        ["zaphod:AKIAAAAAAAAAAAAAAAAA"],  # not a selected user
        ["ann@x.org:AKIAAAAAAAAAAAAAAAAA", "ann@x.org:AKIABBBBBBBBBBBBBBBB"],  # more than selected
        ["ford:akia-lower"],
        ["AKIAAAAAAAAAAAAAAAAA"],
    ):
        with pytest.raises(ValueError):
            confirmed_key_ids(forged, selection)


# --- The page --------------------------------------------------------------------------------


@pytest.fixture
def stale(iam: IamGateway) -> dict[str, str]:
    """ford: a key 200 days old and a new one; arthur: a key 120 days old never used, and a
    console password without MFA; zaphod: a fresh key in use."""
    ids = {}
    for name in ("ford", "arthur", "zaphod"):
        iam.create_user(name)
    ids["ford-old"] = iam.create_access_key("ford").access_key_id
    ids["ford-new"] = iam.create_access_key("ford").access_key_id
    ids["arthur"] = iam.create_access_key("arthur").access_key_id
    ids["zaphod"] = iam.create_access_key("zaphod").access_key_id
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=False)
    old, new = _moto_user("ford").access_keys
    old.create_date = _days_ago(200)
    new.last_used = AccessKeyLastUsed(_days_ago(0), "s3", "us-east-1")
    _moto_user("arthur").access_keys[0].create_date = _days_ago(120)
    _moto_user("zaphod").access_keys[0].last_used = AccessKeyLastUsed(_days_ago(0), "s3", "us-east-1")
    return ids


def _rows(response: Any) -> list[str]:
    """Each stale key row as text."""
    body = response.content.decode()
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r'<tr data-testid="stale-key".*?</tr>', body, re.S)
    ]


def _values(response: Any, name: str) -> list[str]:
    """The values of the page's inputs named `name` (checkboxes, hidden fields)."""
    return [html.unescape(value) for value in re.findall(rf'name="{name}" value="([^"]*)"', response.content.decode())]


def _reference(user: str, slot: int, created: datetime) -> str:
    return f"{user}:{slot}:{created:%Y-%m-%dT%H:%M:%SZ}"


def _created(iam: IamGateway, user: str, key_id: str) -> datetime:
    return next(key.created for key in iam.list_access_keys(user) if key.access_key_id == key_id)


def test_it_lists_stale_keys_by_slot_with_rotate_links_and_users_without_mfa_from_the_report_alone(
    stale, operator_client: Client, iam: IamGateway
) -> None:
    ford_created = _created(iam, "ford", stale["ford-old"])
    with CALLS.measure() as calls:
        response = operator_client.get(URL)
    assert response.status_code == 200
    rows = _rows(response)
    assert len(rows) == 2
    assert rows[0].startswith(f"ford Key 1 {ford_created:%b} ") and "200 days old" in rows[0]
    assert rows[1].startswith("arthur Key 1 ") and "120 days old; never used" in rows[1]
    body = response.content.decode()
    for key_id in stale.values():
        assert key_id not in body  # the credential report names no key: the page makes no call for one
    rotate = reverse("users:hygiene_rotate", args=["ford", 1])
    assert f'href="{rotate}?created={ford_created:%Y-%m-%dT%H%%3A%M%%3A%SZ}"' in body
    assert _values(response, "key") == [
        _reference("ford", 1, ford_created),
        _reference("arthur", 1, _created(iam, "arthur", stale["arthur"])),
    ]
    assert calls.by_operation["ListAccessKeys"] == 0
    assert "Console users without MFA (1)" in text(response) and "Assign MFA device" in text(response)
    assert "Deactivate in account 123456789012" in text(response)


def test_viewing_and_exporting_the_report_of_60_stale_users_reads_only_the_credential_report(
    iam: IamGateway, operator_client: Client
) -> None:
    for number in range(60):
        iam.create_user(f"user{number:02}")
        iam.create_access_key(f"user{number:02}")
        _moto_user(f"user{number:02}").access_keys[0].create_date = _days_ago(100 + number)
    iam.cached_account_info()  # the account named next to Deactivate: read once, cached

    with CALLS.measure() as calls:
        first = operator_client.get(URL)
    assert len(_rows(first)) == 50 and "Stale access keys (60)" in text(first)
    assert set(calls.by_operation) == REPORT_CALLS  # and no ListAccessKeys, for any user
    assert calls.by_operation["GetCredentialReport"] == 1

    with CALLS.measure() as calls:
        second = operator_client.get(URL, {"page": "2", "refresh": "1"})
        exported = b"".join(cast(Any, operator_client.get(EXPORT)).streaming_content)
    assert len(_rows(second)) == 10 and len(exported.splitlines()) == 61
    assert set(calls.by_operation) == REPORT_CALLS  # ?refresh reads the report again; the export, cached
    assert calls.by_operation["GetCredentialReport"] == 1


def test_days_narrows_or_widens_the_report_and_bad_days_are_refused_next_to_the_field(
    stale, operator_client: Client
) -> None:
    assert len(_rows(operator_client.get(URL, {"days": "150"}))) == 1
    _moto_user("zaphod").access_keys[0].create_date = _days_ago(10)  # in use, 10 days old
    assert len(_rows(operator_client.get(URL, {"days": "5", "refresh": "1"}))) == 3
    for bad in ("abc", "0", "-3", "99999", "1.5"):
        response = operator_client.get(URL, {"days": bad})
        assert response.status_code == 400
        assert 'data-testid="days-error"' in response.content.decode()
        assert "Enter a whole number of days from 1 to 3650." in text(response)
        assert _rows(response) == []


def test_the_default_threshold_is_the_deployments(stale, operator_client: Client, settings) -> None:
    settings.ACCESS_KEY_MAX_AGE_DAYS = 150
    response = operator_client.get(URL)
    assert [row.split()[0] for row in _rows(response)] == ["ford"]
    assert "Days (default 150)" in text(response)


def test_viewers_see_the_page_and_export_it_but_cannot_deactivate(stale, viewer_client: Client) -> None:
    response = viewer_client.get(URL)
    assert response.status_code == 200 and len(_rows(response)) == 2
    assert (
        'name="key"' not in response.content.decode()
        and 'data-testid="deactivate-keys"' not in response.content.decode()
    )
    assert viewer_client.get(EXPORT).status_code == 200
    refused = viewer_client.post(DEACTIVATE, {"key": f"ford:{stale['ford-old']}", "confirm": "1"})
    assert refused.status_code == 403
    assert not Job.objects.exists()


def test_read_only_hides_deactivate_and_refuses_it(stale, operator, operator_client: Client, settings) -> None:
    settings.IAM_READ_ONLY = True
    response = operator_client.get(URL)
    assert response.status_code == 200 and 'data-testid="deactivate-keys"' not in response.content.decode()
    assert operator_client.post(DEACTIVATE, {"key": f"ford:{stale['ford-old']}", "confirm": "1"}).status_code == 403
    with pytest.raises(ReadOnlyConsole):
        start_deactivation(operator=operator, selection={"ford": [stale["ford-old"]]})
    assert not Job.objects.exists()


def test_the_export_is_the_whole_report_as_csv_and_is_audited(stale, operator_client: Client) -> None:
    response = operator_client.get(EXPORT, {"days": "100"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="access_key_hygiene_100d_[0-9TZ:-]+\.csv"', response["Content-Disposition"]
    )
    lines = b"".join(cast(Any, response).streaming_content).decode().splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["ford", "Stale access key", "access_key_1"],
        ["arthur", "Stale access key", "access_key_1"],
        ["arthur", "Console access without MFA", ""],
    ]
    event = AuditEvent.objects.get(action=hygiene_views.EXPORT_ACTION)
    assert (event.operator_name, event.parameters["stale_keys"], event.parameters["days"]) == ("alice", 2, 100)
    assert operator_client.get(EXPORT, {"days": "x"}).status_code == 400


def test_deactivate_asks_first_reading_the_selected_keys_ids_then_starts_a_job_whose_page_shows_each_key(
    stale, operator_client: Client, iam: IamGateway
) -> None:
    selection = {"key": _values(operator_client.get(URL), "key"), "days": "90"}
    with CALLS.measure() as calls:
        confirm = operator_client.post(DEACTIVATE, selection)
    assert confirm.status_code == 200
    assert calls.by_operation["ListAccessKeys"] == 2  # one per selected user (ford, arthur)
    assert "Deactivate 2 access keys in account 123456789012" in text(confirm)
    assert "ford Key 1" in text(confirm) and f"{stale['ford-old']} Active" in text(confirm)
    assert _values(confirm, "key_id") == [f"ford:{stale['ford-old']}", f"arthur:{stale['arthur']}"]
    assert _values(confirm, "key") == selection["key"]
    assert not Job.objects.exists()

    started = operator_client.post(
        DEACTIVATE, {"key": _values(confirm, "key"), "key_id": _values(confirm, "key_id"), "confirm": "1"}
    )

    job = Job.objects.get()
    assert started.status_code == 302 and started["Location"] == reverse("users:job_detail", args=[job.id])
    assert (job.source, job.heading) == (Job.Source.KEYS, "Deactivate access keys")
    assert list(job.items.values_list("user_name", "plan")) == [
        ("ford", {"user_name": "ford", "deactivate_access_keys": [stale["ford-old"]]}),
        ("arthur", {"user_name": "arthur", "deactivate_access_keys": [stale["arthur"]]}),
    ]
    run_job_items.run(list(job.items.values_list("id", flat=True)))
    statuses = {key.access_key_id: key.status for name in ("ford", "arthur") for key in iam.list_access_keys(name)}
    assert statuses == {stale["ford-old"]: "Inactive", stale["ford-new"]: "Active", stale["arthur"]: "Inactive"}
    page = operator_client.get(started["Location"])
    assert "The selected access keys of 2 users are inactive" in text(page)
    assert f"UpdateAccessKey {stale['ford-old']} — Deactivated" in text(page)
    assert 'data-forward="false"' in page.content.decode()  # no Success page: nothing secret was made
    assert 'data-testid="credentials-link"' not in page.content.decode()
    assert "Retry" not in text(page)
    audited = AuditEvent.objects.filter(action="UpdateAccessKey").values_list("target", "operator_name")
    assert sorted(audited) == [("arthur", "alice"), ("ford", "alice")]


def test_deactivate_refuses_a_forged_selection_and_says_when_none_is_chosen(stale, operator_client: Client) -> None:
    assert operator_client.post(DEACTIVATE, {"key": "ford:<script>", "confirm": "1"}).status_code == 400
    ford = _values(operator_client.get(URL), "key")[0]
    # The confirmation's ids must be keys of the users selected: not zaphod's.
    forged = {"key": ford, "key_id": f"zaphod:{stale['zaphod']}", "confirm": "1"}
    assert operator_client.post(DEACTIVATE, forged).status_code == 400
    response = operator_client.post(DEACTIVATE, {"confirm": "1"}, follow=True)
    assert "Select the access keys to deactivate." in text(response)
    assert not Job.objects.exists()


# --- The job ---------------------------------------------------------------------------------


def test_a_key_already_inactive_or_gone_counts_as_done_and_a_refusal_fails_only_its_key(
    stale, operator, iam: IamGateway
) -> None:
    iam.update_access_key("ford", stale["ford-new"], "Inactive")
    iam.delete_access_key("arthur", stale["arthur"])
    job = start_deactivation(
        operator=operator,
        selection={
            "ford": [stale["ford-new"], stale["ford-old"]],
            "arthur": [stale["arthur"]],
            "zaphod": [stale["zaphod"]],
        },
    )
    items = {item.user_name: item for item in job.items.all()}

    with inject(iam, "UpdateAccessKey", "AccessDenied", status=403, message="Not allowed", times=1):
        run_job_items.run([items["zaphod"].pk])
    run_job_items.run([items["ford"].pk, items["arthur"].pk])

    notes = {
        item.user_name: [(step["step"], step["status"], step.get("note", "")) for step in item.steps]
        for item in job.items.all()
    }
    assert notes["ford"] == [
        (f"UpdateAccessKey:{stale['ford-new']}", "done", key_jobs.ALREADY_INACTIVE),
        (f"UpdateAccessKey:{stale['ford-old']}", "done", key_jobs.DEACTIVATED),
    ]
    assert notes["arthur"] == [(f"UpdateAccessKey:{stale['arthur']}", "done", key_jobs.GONE)]
    assert notes["zaphod"] == [(f"UpdateAccessKey:{stale['zaphod']}", "failed", "")]
    zaphod = job.items.get(user_name="zaphod")
    assert (zaphod.status, zaphod.error_code) == (JobItem.Status.FAILED, "AccessDenied")
    assert [key.status for key in iam.list_access_keys("zaphod")] == ["Active"]

    assert jobs.retry_failed(job) == 1  # Retry tries the refused key again, the others stay done
    run_job_items.run([zaphod.pk])
    assert [key.status for key in iam.list_access_keys("zaphod")] == ["Inactive"]
    assert job.items.filter(status=JobItem.Status.DONE).count() == 3
    notice = jobs.take_finished_job_notices(operator.pk)
    assert [n.text for n in notice] == ["Deactivate access keys (3 users) finished: 3 done"]


def test_user_creation_still_runs_beside_key_jobs(stale, operator, iam: IamGateway) -> None:
    created = jobs.start_job(operator=operator, source=Job.Source.WIZARD, plans=[UserPlan(user_name="trillian")])
    keys = start_deactivation(operator=operator, selection={"ford": [stale["ford-old"]]})
    run_job_items.run([*created.items.values_list("id", flat=True), *keys.items.values_list("id", flat=True)])
    assert iam.user_exists("trillian")
    assert {key.access_key_id: key.status for key in iam.list_access_keys("ford")}[stale["ford-old"]] == "Inactive"
    assert set(JobItem.objects.values_list("status", flat=True)) == {JobItem.Status.DONE}


def test_the_confirmation_leaves_out_a_key_inactive_or_deleted_since_iams_report(
    stale, operator_client: Client, iam: IamGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = iam.credential_report()  # real IAM renews its report at most every four hours
    iam.update_access_key("ford", stale["ford-old"], "Inactive")
    monkeypatch.setattr(IamGateway, "credential_report", lambda gateway, fresh=False: report)
    selection = _values(operator_client.get(URL), "key")
    assert len(selection) == 2  # the report still shows ford's key as active

    confirm = operator_client.post(DEACTIVATE, {"key": selection})

    assert "Deactivate 1 access key in account 123456789012" in text(confirm)
    assert f"{stale['ford-old']} Inactive already: left out" in text(confirm)
    assert _values(confirm, "key_id") == [f"arthur:{stale['arthur']}"]

    iam.delete_access_key("arthur", stale["arthur"])
    nothing = operator_client.post(DEACTIVATE, {"key": selection})
    assert "No access key to deactivate" in text(nothing) and "No longer exists: left out" in text(nothing)
    assert _values(nothing, "key_id") == [] and 'data-testid="confirm-deactivate"' not in nothing.content.decode()
    refused = operator_client.post(DEACTIVATE, {"key": selection, "confirm": "1"}, follow=True)
    assert "None of the selected access keys is still active: nothing changed." in text(refused)
    assert not Job.objects.exists()


def test_a_rows_rotate_finds_its_key_by_creation_time_and_leads_to_the_guided_rotate(
    stale, operator_client: Client, viewer_client: Client, iam: IamGateway
) -> None:
    created = _created(iam, "ford", stale["ford-old"])
    rotate = reverse("users:hygiene_rotate", args=["ford", 1])
    with CALLS.measure() as calls:
        response = operator_client.get(rotate, {"created": f"{created:%Y-%m-%dT%H:%M:%SZ}"})
    assert response.status_code == 302
    assert response["Location"] == reverse("users:access_key_rotate", args=["ford", stale["ford-old"]])
    assert calls.by_operation["ListAccessKeys"] == 1
    viewed = viewer_client.get(rotate, {"created": f"{created:%Y-%m-%dT%H:%M:%SZ}"})
    assert viewed["Location"] == response["Location"]  # as the Rotate page itself, viewers may look

    iam.delete_access_key("ford", stale["ford-old"])
    gone = operator_client.get(rotate, {"created": f"{created:%Y-%m-%dT%H:%M:%SZ}"}, follow=True)
    assert gone.redirect_chain[0][0] == reverse("users:detail", args=["ford"]) + "?section=security_credentials"
    assert f"Access key 1 of ford, created {created:%Y-%m-%d %H:%M} UTC, is no longer in IAM." in text(gone)
    for bad in ("", "yesterday", "2026-01-02T03:04:05+00:00"):
        assert operator_client.get(rotate, {"created": bad}).status_code == 400
    assert (
        operator_client.get(
            reverse("users:hygiene_rotate", args=["ford", 3]), {"created": "2026-01-02T03:04:05Z"}
        ).status_code
        == 400
    )


def test_it_says_so_while_iam_is_still_making_its_report(
    stale, operator_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(IAMBackend, "report_generated", lambda backend: False)  # moto: always STARTED
    monkeypatch.setattr("users.iam.gateway.REPORT_POLL_SECONDS", 0)
    response = operator_client.get(URL)
    assert response.status_code == 200
    assert "IAM is still generating its credential report: refresh in a few seconds." in text(response)
    assert _rows(response) == [] and 'data-testid="hygiene-export"' not in response.content.decode()
    exported = operator_client.get(EXPORT, follow=True)
    assert "IAM is still generating its credential report" in text(exported)


def test_a_failed_key_job_says_which_key_failed_and_offers_retry(stale, operator, operator_client: Client, iam) -> None:
    job = start_deactivation(operator=operator, selection={"ford": [stale["ford-old"]]})
    with inject(iam, "UpdateAccessKey", "AccessDenied", status=403, message="Not allowed here", times=1):
        run_job_items.run(list(job.items.values_list("id", flat=True)))

    page = text(operator_client.get(reverse("users:job_detail", args=[job.id])))

    assert "1 of 1 user still has a selected key that could not be deactivated." in page
    assert re.search(rf"✗ UpdateAccessKey {stale['ford-old']} [0-9.]+ s AccessDenied: Not allowed here", page)
    assert "Retry failed keys in account 123456789012" in page
    assert "could not be fully created" not in page


def test_the_stale_keys_come_a_page_at_a_time(stale, operator_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hygiene_views, "ROWS_PER_PAGE", 1)

    response = operator_client.get(URL, {"page": "2"})

    assert [row.split()[0] for row in _rows(response)] == ["arthur"]
    assert _values(response, "key") == [
        _reference("arthur", 1, _created(IamGateway.from_settings(), "arthur", stale["arthur"]))
    ]
    assert 'href="?days=90&amp;mfa_page=1&amp;page=1"' in response.content.decode()
