"""The access-key hygiene page (issue 17, users/hygiene/, users/views/hygiene.py): the report
read from IAM's credential report, its thresholds, the key ids of the rows shown, the CSV,
who may deactivate, and the job that deactivates keys (run through the task's own function
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
from users.forms.hygiene import selected_keys
from users.hygiene import keys as key_jobs
from users.hygiene.deactivation import start_deactivation
from users.hygiene.report import CSV_HEADER, StaleKey, attach_key_ids, hygiene_csv, hygiene_report
from users.iam.errors import ReadOnlyConsole
from users.iam.gateway import IamGateway
from users.iam.types import AccessKey, parse_credential_report
from users.models import AuditEvent, Job, JobItem
from users.provisioning import UserPlan
from users.tasks import run_job_items
from users.views import hygiene as hygiene_views

URL = reverse("users:hygiene")
EXPORT = reverse("users:hygiene_export")
DEACTIVATE = reverse("users:hygiene_deactivate")
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
)


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
    rows = [
        StaleKey("ford", 1, created, None, 100, 100, True, True),
        StaleKey("ford", 2, created + timedelta(days=5), None, 95, 95, True, True),
        StaleKey("gone", 1, created, None, 100, 100, True, True),
    ]
    keys = {
        "ford": [
            AccessKey("AKIAFORDSECOND00000", "Inactive", created + timedelta(days=5, seconds=0.4)),
            AccessKey("AKIAFORDFIRST000000", "Active", created + timedelta(seconds=0.6)),
        ],
        "gone": [AccessKey("AKIAGONENEWER000000", "Active", created + timedelta(days=2))],
    }

    matched = attach_key_ids(rows, keys)

    assert [(row.key_id, row.status, row.selectable) for row in matched] == [
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


def test_a_deactivate_selection_is_user_and_key_pairs() -> None:
    keys = ["ford:AKIAAAAAAAAAAAAAAAAA", "ford:AKIABBBBBBBBBBBBBBBB", "ann@x.org:AKIACCCCCCCCCCCCCCCC"]
    assert selected_keys([*keys, keys[0]], limit=5) == {
        "ford": ["AKIAAAAAAAAAAAAAAAAA", "AKIABBBBBBBBBBBBBBBB"],
        "ann@x.org": ["AKIACCCCCCCCCCCCCCCC"],
    }
    for bad in ["ford", "ford:akia-lower", "bad name:AKIAAAAAAAAAAAAAAAAA", ":AKIAAAAAAAAAAAAAAAAA"]:
        with pytest.raises(ValueError):
            selected_keys([bad], limit=5)
    with pytest.raises(ValueError):
        selected_keys(keys, limit=2)


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


def test_it_lists_stale_keys_with_their_ids_rotate_links_and_users_without_mfa(
    stale, operator_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = IamGateway.list_access_keys

    def spy(gateway: IamGateway, name: str) -> list[AccessKey]:
        calls.append(name)
        return original(gateway, name)

    monkeypatch.setattr(IamGateway, "list_access_keys", spy)
    response = operator_client.get(URL)
    assert response.status_code == 200
    rows = _rows(response)
    assert len(rows) == 2
    assert rows[0].startswith(f"ford {stale['ford-old']}") and "200 days old" in rows[0]
    assert rows[1].startswith(f"arthur {stale['arthur']}") and "120 days old; never used" in rows[1]
    body = response.content.decode()
    rotate = reverse("users:access_key_rotate", args=["ford", stale["ford-old"]])
    assert f'href="{rotate}"' in body
    assert f'value="ford:{stale["ford-old"]}"' in body and stale["zaphod"] not in body
    assert sorted(calls) == ["arthur", "ford"]  # the users of the rows shown, not zaphod
    assert "Console users without MFA (1)" in text(response) and "Assign MFA device" in text(response)
    assert "Deactivate in account 123456789012" in text(response)


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


def test_deactivate_asks_first_then_starts_a_job_whose_page_shows_each_key(
    stale, operator_client: Client, iam: IamGateway
) -> None:
    selection = {"key": [f"ford:{stale['ford-old']}", f"arthur:{stale['arthur']}"], "days": "90"}
    confirm = operator_client.post(DEACTIVATE, selection)
    assert confirm.status_code == 200
    assert "Deactivate 2 access keys in account 123456789012" in text(confirm)
    assert not Job.objects.exists()

    started = operator_client.post(DEACTIVATE, {**selection, "confirm": "1"})

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


def test_a_key_deactivated_since_iams_report_is_marked_and_cannot_be_selected(
    stale, operator_client: Client, iam: IamGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = iam.credential_report()  # real IAM renews its report at most every four hours
    iam.update_access_key("ford", stale["ford-old"], "Inactive")
    monkeypatch.setattr(IamGateway, "credential_report", lambda gateway, fresh=False: report)

    response = operator_client.get(URL)

    assert _rows(response)[0].split()[:3] == ["ford", stale["ford-old"], "Inactive"]
    assert f'value="ford:{stale["ford-old"]}"' not in response.content.decode()
    assert f'value="arthur:{stale["arthur"]}"' in response.content.decode()


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


def test_each_page_reads_the_keys_of_its_own_users_only(
    stale, operator_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hygiene_views, "ROWS_PER_PAGE", 1)
    calls: list[str] = []
    original = IamGateway.list_access_keys

    def spy(gateway: IamGateway, name: str) -> list[AccessKey]:
        calls.append(name)
        return original(gateway, name)

    monkeypatch.setattr(IamGateway, "list_access_keys", spy)
    response = operator_client.get(URL, {"page": "2"})

    assert [row.split()[0] for row in _rows(response)] == ["arthur"]
    assert calls == ["arthur"]
    assert 'href="?days=90&amp;mfa_page=1&amp;page=1"' in response.content.decode()
