"""Bulk import: a CSV of users, a dry run, then one job (users/jobs.py) on confirmation.

    upload = dry_run(file, file_name=..., operator=..., gateway=...)  # validates, no IAM write
    job = confirm(upload, operator=..., session=request.session)     # checks names again, starts the job, once

The dry run checks every row before any IAM change, with the wizard's validators and quotas,
plus what only a file can get wrong: duplicates within the file (case-insensitively), users
that already exist, groups and policies that do not, the account's 5,000-user quota. It reads
the file as a stream and saves rows in batches, so memory stays flat up to MAX_ROWS. The rows
(a plan per valid row, the errors of the others) are kept in the database until confirmed.

The file: UTF-8 (a BOM is fine), comma-separated, a header naming the columns (any order,
any case; only `user_name` is required), one user per line:

    user_name   path   groups   policies   permissions_boundary   tags   console_access
    password_reset_required   programmatic_access

Lists are `;`-separated; policies and the boundary are names or ARNs; tags are `key=value`
(split at the first `=`; a `=` inside a key is written `\\=`, which no tag can otherwise
hold); flags are yes/no (true/false, 1/0), default no, except password_reset_required
(default yes). A file never carries a password: the console generates one per console user.
A cell starting with `=`, `+`, `-`, `@`, a tab or CR is refused: it is a spreadsheet formula,
or would be one when the credentials file is opened in a spreadsheet.
Such a cell written as the console's own files escape it (a `'` first, as in `'=x`) is text,
read without its `'`. A column named `errors` is ignored: the file of the rows with errors
(`bad_rows_csv`) carries one, so that it can be fixed and uploaded again as it is.

Two confirmations: every row valid (`confirm`), or only the valid rows of a file that also has
rows with errors (`confirm(..., valid_only=True)`; the others are counted as skipped). And the
other way round, `users_csv` writes users of the account in this format (no credentials), so a
file can go from one account to another.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import IO, Any, cast

from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from users import audit, jobs
from users.exports import escaped_line
from users.iam.gateway import IamGateway
from users.iam.types import Policy
from users.iam.user_export import ExportedUser
from users.models import ImportRow, Job, UserImport
from users.provisioning import CHANGE_PASSWORD_POLICY_ARN, UserPlan, needs_change_password_policy
from users.validators import (
    CONSOLE_TAG_PREFIX,
    MAX_GROUPS_PER_USER,
    MAX_MANAGED_POLICIES_PER_USER,
    USER_NAME_MESSAGE,
    is_valid_user_name,
    validate_path,
    validate_tags,
)

COLUMNS = (
    "user_name",
    "path",
    "groups",
    "policies",
    "permissions_boundary",
    "tags",
    "console_access",
    "password_reset_required",
    "programmatic_access",
)
# Read and ignored: the file of the rows with errors carries their errors in this column.
ERRORS_COLUMN = "errors"
MAX_ROWS = 5000
# A tag key's own `=`, in a file: escaped with a backslash, a character no tag may contain.
ESCAPED_EQUALS = "\\="
_TAG_SEPARATOR = re.compile(r"(?<!\\)=")
MAX_BYTES = 5 * 1024 * 1024  # 5,000 users with long policy and tag lists fit in well under this
MAX_USERS_PER_ACCOUNT = 5000  # IAM's quota (FEATURES.md §5)
PLAN_VALID_FOR = timedelta(hours=1)  # after that, IAM may have changed too much: upload again
SAVE_BATCH = 500
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0"})
TEMPLATE_ROWS = (
    ("alice", "/", "Developers", "", "", "team=web;cost-center=1234", "yes", "yes", "no"),
    ("build-bot", "/service/", "", "ReadOnlyAccess", "", "team=ci", "no", "", "yes"),
)


ErrorSink = Callable[[str, str], None]  # error(column, message) notes one error of a row


class ImportFileError(Exception):
    """The file as a whole cannot be read as an import (its message says why); nothing is kept."""


class NotConfirmable(Exception):
    """The dry run cannot start a job (errors, or too old); its message says why."""


def template_csv() -> str:
    """The downloadable template: the header and two example rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(TEMPLATE_ROWS)
    return out.getvalue()


# --- What the rows are checked against --------------------------------------------------------


class Catalog:
    """The account as the dry run sees it: user names, groups and managed policies, each by
    case-folded name (IAM names are unique regardless of case), and the password policy.

    Users and groups are read fresh from IAM (one paginated GetAccountAuthorizationDetails
    each), with the password policy; the managed policies (from the gateway's short cache)
    only once a row names one: most imports name none, and reading 1,200 AWS policies is most
    of a cold dry run's time."""

    def __init__(self, gateway: IamGateway) -> None:
        self._gateway = gateway
        self.users = {user.name.casefold(): user.name for user in gateway.user_index(fresh=True)}
        self.groups = {group.name.casefold(): group.name for group in gateway.group_index(fresh=True)}
        self.password_policy = gateway.get_password_policy()

    @cached_property
    def policies_by_arn(self) -> Mapping[str, Policy]:
        return {policy.arn: policy for policy in self._gateway.policy_index()}

    @cached_property
    def policies_by_name(self) -> Mapping[str, tuple[Policy, ...]]:
        by_name: dict[str, tuple[Policy, ...]] = {}
        for policy in self._gateway.policy_index():
            by_name[policy.name.casefold()] = (*by_name.get(policy.name.casefold(), ()), policy)
        return by_name


# --- Reading the file ------------------------------------------------------------------------


def _records(file: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: cell}) for each non-blank row after the header, read as a stream.

    Raises ImportFileError for what makes the whole file unreadable: not UTF-8, not CSV, no
    usable header, a row longer than the header, no rows, more than MAX_ROWS rows.
    """
    reader = csv.reader(_text_lines(file))
    count = 0
    try:
        header = _header(next(reader, None))
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                raise ImportFileError(
                    f"Line {reader.line_num} has {len(row)} cells, but the header names {len(header)} "
                    "columns. Quote any cell that contains a comma."
                )
            count += 1
            if count > MAX_ROWS:
                raise ImportFileError(
                    f"The file has more than {MAX_ROWS:,} users. Split it into files of up to {MAX_ROWS:,}."
                )
            yield reader.line_num, dict(zip(header, row, strict=False))
    except csv.Error as error:
        reason, line = str(error), reader.line_num
        if "new-line character" in reason:  # the reader stopped before counting that line
            reason = "a line break in a cell without quotes, or lines that end with a carriage return only"
            line += 1
        raise ImportFileError(f"Line {line} is not valid CSV ({reason}). Save the file as “CSV UTF-8”.") from None
    if count == 0:
        raise ImportFileError("The file has a header but no users.")


def _text_lines(file: IO[bytes]) -> Iterator[str]:
    """The file's lines, decoded one at a time (so an error names its line); a BOM is dropped.
    Line ends are kept: the CSV reader needs them for cells that hold a line break."""
    for number, raw in enumerate(file, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ImportFileError(
                f"Line {number} is not UTF-8 text. Save the file as “CSV UTF-8” and upload it again."
            ) from None
        if "\x00" in line:  # binary data; no database text column may hold it either
            raise ImportFileError(f"Line {number} holds a NUL character: this is not a CSV text file.")
        yield line


def _header(row: list[str] | None) -> list[str]:
    if row is None or not any(cell.strip() for cell in row):
        raise ImportFileError("The file is empty. Download the template to see the expected columns.")
    header = [cell.strip().lower() for cell in row]
    expected = ", ".join(COLUMNS)
    if any(name == "password" for name in header):
        raise ImportFileError(
            "The file has a password column. An import never carries passwords: the console "
            "generates one for each user with console access. Remove the column."
        )
    unknown = [name for name in header if name not in COLUMNS and name != ERRORS_COLUMN]
    if unknown:
        shown = ", ".join(f"“{name[:40]}”" for name in unknown[:3])
        raise ImportFileError(f"Unknown column {shown} in the header. The columns are: {expected}.")
    if "user_name" not in header:
        raise ImportFileError(f"The header has no user_name column. The columns are: {expected}.")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ImportFileError(f"The header names {', '.join(repeated)} more than once.")
    return header


# --- Checking one row ------------------------------------------------------------------------


@dataclass
class RowChecker:
    """Turns each row into a plan or a list of errors; remembers the names seen so far."""

    catalog: Catalog
    seen: dict[str, int] = field(default_factory=dict)  # case-folded user name → first line

    def check(self, line: int, cells: Mapping[str, str]) -> tuple[UserPlan | None, list[dict[str, str]]]:
        errors: list[dict[str, str]] = []

        def error(column: str, message: str) -> None:
            errors.append({"column": column, "message": message})

        values: dict[str, str] = {}
        formulas: dict[str, str] = {}  # column → the character that starts its formula
        for column in COLUMNS:
            raw = cells.get(column, "")
            if raw.lstrip(" ").startswith("'") and raw.lstrip(" ")[1:].startswith(FORMULA_TRIGGERS):
                raw = raw.lstrip(" ")[1:]  # escaped as our own files do: text, not a formula
            elif raw.lstrip(" ").startswith(FORMULA_TRIGGERS):
                first = raw.lstrip(" ")[0]
                formulas[column] = {"\t": "a tab", "\r": "a carriage return"}.get(first, f"“{first}”")
            values[column] = raw.strip()

        name = self._user_name(line, values["user_name"], error)
        path = values["path"] or "/"
        try:
            validate_path(path)
        except ValidationError as invalid:
            error("path", invalid.messages[0])
        console = self._flag(values, "console_access", False, error)
        reset = self._flag(values, "password_reset_required", True, error) and console
        programmatic = self._flag(values, "programmatic_access", False, error)
        change_password = needs_change_password_policy(
            console_access=console, reset_required=reset, policy=self.catalog.password_policy
        )
        groups = self._groups(values["groups"], error)
        policies = self._policies(values["policies"], change_password, error)
        boundary = self._boundary(values["permissions_boundary"], error)
        tags = self._tags(values["tags"], error)
        if formulas:
            # The formula is the one thing to say about such a cell.
            errors = [entry for entry in errors if entry["column"] not in formulas]
            errors += [
                {
                    "column": column,
                    "message": f"Starts with {trigger}, which spreadsheets run as a formula. "
                    "Save the sheet with plain values.",
                }
                for column, trigger in formulas.items()
            ]
        if errors:
            errors.sort(key=lambda entry: COLUMNS.index(entry["column"]))
            return None, errors
        plan = UserPlan(
            user_name=name,
            path=path,
            console_access=console,
            password_reset_required=reset,
            programmatic_access=programmatic,
            attach_change_password=change_password,
            groups=groups,
            policy_arns=policies,
            permissions_boundary=boundary,
            tags=tags,
        )
        return plan, []

    def _user_name(self, line: int, name: str, error: ErrorSink) -> str:
        if not name:
            error("user_name", "Enter a user name.")
        elif not is_valid_user_name(name):
            error("user_name", USER_NAME_MESSAGE)
        elif (first := self.seen.get(name.casefold())) is not None:
            error("user_name", f"Same user name as line {first} (user names are unique regardless of case).")
        else:
            self.seen[name.casefold()] = line
            if (existing := self.catalog.users.get(name.casefold())) is not None:
                error("user_name", f"A user named {existing} already exists.")
        return name

    @staticmethod
    def _flag(values: Mapping[str, str], column: str, default: bool, error: ErrorSink) -> bool:
        value = values[column].lower()
        if not value:
            return default
        if value in YES or value in NO:
            return value in YES
        error(column, f"Enter yes or no, not “{values[column][:40]}”.")
        return default

    def _groups(self, cell: str, error: ErrorSink) -> tuple[str, ...]:
        names = _unique(_split(cell))
        missing = [name for name in names if name.casefold() not in self.catalog.groups]
        if missing:
            error("groups", f"No such group: {_quoted(missing)}.")
        if len(names) > MAX_GROUPS_PER_USER:
            error("groups", f"A user can be a member of up to {MAX_GROUPS_PER_USER} groups ({len(names)} given).")
        return tuple(self.catalog.groups[name.casefold()] for name in names if name not in missing)

    def _policy(self, reference: str) -> Policy | str:
        """The managed policy a name or ARN refers to, or why there is none."""
        if reference.startswith("arn:"):
            policy = self.catalog.policies_by_arn.get(reference)
            return policy or f"No managed policy has the ARN {reference}."
        found = self.catalog.policies_by_name.get(reference.casefold(), ())
        if len(found) == 1:
            return found[0]
        if not found:
            return f"No managed policy named {reference}."
        return f"Several policies are named {reference}; give the ARN of the one you mean."

    def _policies(self, cell: str, change_password: bool, error: ErrorSink) -> tuple[str, ...]:
        arns: list[str] = []
        for reference in _split(cell):
            policy = self._policy(reference)
            if isinstance(policy, str):
                error("policies", policy)
            elif not policy.is_attachable:
                error("policies", f"{policy.name} is a service-linked role's policy: IAM does not attach it to users.")
            elif policy.arn not in arns:
                arns.append(policy.arn)
        if change_password and CHANGE_PASSWORD_POLICY_ARN in arns:
            arns.remove(CHANGE_PASSWORD_POLICY_ARN)  # attached anyway, as the password rule
        total = len(arns) + int(change_password)
        if total > MAX_MANAGED_POLICIES_PER_USER:
            extra = ", IAMUserChangePassword included, as users must reset their password" if change_password else ""
            error(
                "policies",
                f"A user can have up to {MAX_MANAGED_POLICIES_PER_USER} managed policies attached ({total}{extra}).",
            )
        return tuple(arns)

    def _boundary(self, cell: str, error: ErrorSink) -> str | None:
        if not cell:
            return None
        policy = self._policy(cell)
        if isinstance(policy, str):
            error("permissions_boundary", policy)
            return None
        return policy.arn

    @staticmethod
    def _tags(cell: str, error: ErrorSink) -> tuple[tuple[str, str], ...]:
        pairs = []
        for item in _split(cell):
            key, *value = _TAG_SEPARATOR.split(item, maxsplit=1)
            pairs.append((key.replace(ESCAPED_EQUALS, "=").strip(), "".join(value).strip()))
        found = validate_tags(pairs, new_user=True)
        for index, fields in sorted(found.rows.items()):
            for messages in fields.values():
                error("tags", f"Tag “{pairs[index][0][:40]}”: {' '.join(messages)}")
        for message in found.overall:
            error("tags", message)
        return tuple(pairs)


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for name in names:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            unique.append(name)
    return unique


def _quoted(names: list[str]) -> str:
    return ", ".join(f"“{name[:40]}”" for name in names)


# --- The dry run and the confirmation --------------------------------------------------------


def dry_run(file: IO[bytes], *, file_name: str, operator: User, gateway: IamGateway) -> UserImport:
    """Read and check every row of `file` against the account; keep the outcome as a
    `UserImport` with its rows. Makes read-only IAM calls only. Raises ImportFileError (and
    keeps nothing) when the file as a whole is unusable; `IamError` when IAM cannot be read."""
    records = _records(file)
    first = next(records)  # the header and a first row, before any IAM call
    checker = RowChecker(Catalog(gateway))
    with transaction.atomic():
        upload = UserImport.objects.create(operator=operator, file_name=file_name.replace("\x00", "")[:255])
        batch: list[ImportRow] = []
        total = invalid = 0
        for line, cells in itertools.chain([first], records):
            plan, errors = checker.check(line, cells)
            total += 1
            invalid += plan is None
            batch.append(
                ImportRow(
                    upload=upload,
                    line=line,
                    user_name=cells.get("user_name", "").strip()[:128],
                    plan=plan.to_json() if plan else None,
                    errors=errors,
                    is_valid=plan is not None,
                    values={column: cells[column] for column in COLUMNS if cells.get(column)},
                )
            )
            if len(batch) == SAVE_BATCH:
                ImportRow.objects.bulk_create(batch)
                batch = []
        ImportRow.objects.bulk_create(batch)
        upload.rows_total, upload.rows_invalid = total, invalid
        existing = len(checker.catalog.users)
        if existing + (total - invalid) > MAX_USERS_PER_ACCOUNT:
            upload.errors = [
                f"The account has {existing:,} users: {total - invalid:,} more would pass IAM's quota of "
                f"{MAX_USERS_PER_ACCOUNT:,} users per account."
            ]
        upload.save(update_fields=["rows_total", "rows_invalid", "errors"])
    return upload


def is_expired(upload: UserImport) -> bool:
    return timezone.now() - upload.created_at > PLAN_VALID_FOR


def can_create_valid_rows(upload: UserImport) -> bool:
    """Whether the dry run may start a job of its valid rows only: some rows have errors, at
    least one has none, and the file as a whole has no error (the account's quota)."""
    return 0 < upload.rows_invalid < upload.rows_total and not upload.errors


def confirm(upload: UserImport, *, operator: User, session: SessionBase | None, valid_only: bool = False) -> Job:
    """Start the job of a valid dry run: one item per row, in file order. Once only: a second
    confirmation (a double click, another tab) returns the job the first one started.

    With `valid_only`, a dry run with rows with errors starts the job of its valid rows (if it
    has any, and no error of the file as a whole); the others are counted as skipped
    (`UserImport.rows_skipped`) and audited (SkipImportRows). User names taken since the dry run
    still stop it all, as they stop a confirmation of a valid file: the operator then sees
    the new count before confirming again.

    Raises NotConfirmable for a dry run with errors or older than PLAN_VALID_FOR, and what
    `jobs.start_job` raises (JobQueueUnavailable, IamError), with nothing started.
    """
    if upload.job is not None:
        return upload.job
    if not upload.is_valid and not (valid_only and can_create_valid_rows(upload)):
        raise NotConfirmable("Fix the rows with errors and upload the file again: nothing was created.")
    if is_expired(upload):
        raise NotConfirmable("This dry run is more than an hour old and IAM may have changed. Upload the file again.")
    _refuse_changes_since_dry_run(upload, IamGateway.from_settings(operator=operator))
    with transaction.atomic():
        # The conditional update is the lock (on SQLite too): a concurrent confirmation waits
        # here until this transaction ends, then updates nothing and returns our job.
        claimed = UserImport.objects.filter(pk=upload.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now(), rows_skipped=F("rows_invalid")
        )
        if not claimed:
            job = UserImport.objects.get(pk=upload.pk).job
            if job is None:
                raise NotConfirmable("This import is already being started.")
            return job
        plans = [
            UserPlan.from_json(cast(dict[str, Any], plan))  # a valid row has a plan
            for plan in upload.rows.filter(is_valid=True).values_list("plan", flat=True)
        ]
        job = jobs.start_job(operator=operator, source=Job.Source.IMPORT, plans=plans, session=session)
        UserImport.objects.filter(pk=upload.pk).update(job=job)
        upload.refresh_from_db(fields=["rows_skipped", "confirmed_at"])
        if upload.rows_skipped:
            _audit_skipped(upload, job, operator=operator, created=len(plans))
    upload.job = job
    return job


def _audit_skipped(upload: UserImport, job: Job, *, operator: User, created: int) -> None:
    """The audit row of a job started without the rows with errors: how many, and their lines."""
    lines = list(upload.rows.filter(is_valid=False).values_list("line", flat=True)[:100])
    audit.record(
        operator=operator,
        action="SkipImportRows",
        target=f"import {upload.id}",
        parameters={
            "file_name": upload.file_name,
            "job_id": str(job.id),
            "created": created,
            "skipped": upload.rows_skipped,
            "skipped_lines": lines,  # the first 100
        },
        outcome="success",
    )


def _refuse_changes_since_dry_run(upload: UserImport, gateway: IamGateway) -> None:
    """Read the users again (one fresh read of the index, whatever the number of rows) and raise
    NotConfirmable if the dry run no longer holds: the rows whose name a user made since has
    taken become rows with errors, and a quota now passed becomes the file's error."""
    users = {user.name.casefold(): user.name for user in gateway.user_index(fresh=True)}
    taken = [
        row for row in upload.rows.filter(is_valid=True).only("id", "user_name") if row.user_name.casefold() in users
    ]
    ready = upload.rows_total - upload.rows_invalid - len(taken)
    over_quota = len(users) + ready > MAX_USERS_PER_ACCOUNT
    if not (taken or over_quota):
        return
    for row in taken:
        message = f"A user named {users[row.user_name.casefold()]} already exists (created after the dry run)."
        row.is_valid, row.plan, row.errors = False, None, [{"column": "user_name", "message": message}]
    quota = (
        f"The account has {len(users):,} users: {ready:,} more would pass IAM's quota of "
        f"{MAX_USERS_PER_ACCOUNT:,} users per account."
    )
    with transaction.atomic():
        # Unless a concurrent confirmation started the job meanwhile: these may be its users.
        changed = UserImport.objects.filter(pk=upload.pk, confirmed_at__isnull=True).update(
            rows_invalid=F("rows_invalid") + len(taken), errors=[quota] if over_quota else []
        )
        if not changed:
            return
        ImportRow.objects.bulk_update(taken, ["is_valid", "plan", "errors"], batch_size=SAVE_BATCH)
    upload.refresh_from_db()
    reasons = [quota] if over_quota else []
    if taken:
        names = f"{len(taken):,} user name{'s' if len(taken) != 1 else ''}"
        reasons.insert(
            0, f"{names} of this file {'is' if len(taken) == 1 else 'are'} now taken: see the rows with errors."
        )
    raise NotConfirmable(
        "IAM changed since the dry run, so nothing was created. "
        + " ".join(reasons)
        + " Fix the file and upload it again."
    )


# --- Files in the import format: the rows with errors, and the account's users -------------------


def bad_rows_csv(upload: UserImport) -> Iterator[str]:
    """The lines of the file of a dry run's rows with errors: the import columns, each row's
    cells as given, and an `errors` column (ignored when the file is uploaded again) saying
    what to fix. Every cell is formula-escaped (`'=…`, which the import reads as text). UTF-8,
    LF line ends, for a `StreamingHttpResponse`."""
    yield escaped_line((*COLUMNS, ERRORS_COLUMN))
    rows = upload.rows.filter(is_valid=False).only("values", "errors").order_by("line")
    for row in rows.iterator(chunk_size=SAVE_BATCH):
        values = row.values if isinstance(row.values, dict) else {}
        problems = "; ".join(f"{error['column']}: {error['message']}" for error in row.errors)
        yield escaped_line((*(str(values.get(column, "")) for column in COLUMNS), problems))


def users_csv(users: Iterable[ExportedUser]) -> Iterator[str]:
    """The lines of an import file that makes `users` again, in another account or this one:
    name, path, groups, attached managed policies and boundary (AWS managed ones by ARN, the
    same in every account; the account's own by name, since their ARN names the account) and
    tags (not the console's own `iamconsole:` ones). Never a credential: console_access,
    password_reset_required and programmatic_access are left empty (no password, no access
    key, unless the file says yes). Inline policies have no column and are left out."""
    yield escaped_line(COLUMNS)
    for user in users:
        tags = [(key, value) for key, value in user.tags if not key.startswith(CONSOLE_TAG_PREFIX)]
        cells = {
            "user_name": user.name,
            "path": user.path,
            "groups": ";".join(user.groups),
            "policies": ";".join(_policy_reference(policy.arn, policy.name) for policy in user.policies),
            "permissions_boundary": _policy_reference(user.permissions_boundary, None),
            "tags": ";".join(f"{key.replace('=', ESCAPED_EQUALS)}={value}" for key, value in tags),
        }
        yield escaped_line(cells.get(column, "") for column in COLUMNS)


def _policy_reference(arn: str | None, name: str | None) -> str:
    """How an import file names a policy: an AWS managed one by ARN, another by name."""
    if not arn:
        return ""
    if arn.split(":")[4:5] == ["aws"]:  # arn:<partition>:iam::aws:policy/…, in every account
        return arn
    return name or arn.rsplit("/", 1)[-1]
