"""How "Changes since your last visit" (users/drift/) scales: its in-memory work at N users.

Builds a users index and a credential report of N users in memory (as the gateway hands them
over, cached; no IAM, no database), every 2nd user with a password and an access key, then times:
  (state)   the users' state from the index and the report;
  (pack)    compressing it to store (and its size), (unpack) reading it back;
  (diff)    the differences from the last visit's state with 10 % of the users changed
            (added to a group) and 1 % created;
  (explain) leaving out the changes that N/10 audited calls explain;
  (badge)   what counting the badge costs in memory: unpack + state + diff + explain.
Prints the median CPU milliseconds of each (process time: steadier than the wall clock on a
busy machine). The IAM side is counted by tests/test_drift.py: the page makes the Users list's
account-wide reads only, the badge none.

    .venv/bin/python bench/drift.py --users 5000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamconsole.settings")

import django

django.setup()

from users.drift import changes  # noqa: E402
from users.iam.types import CredentialReport, ReportedAccessKey, UserCredentials, UserSummary  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def median_ms(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        begin = time.process_time()
        action()
        timings.append(time.process_time() - begin)
    return statistics.median(timings) * 1000


def index_of(count: int, *, changed: bool = False) -> list[UserSummary]:
    users = []
    for i in range(count + (count // 100 if changed else 0)):
        groups = ("Developers", "Admins") if changed and i % 10 == 0 else ("Developers",)
        arn = f"arn:aws:iam::123456789012:user/user-{i:05d}"
        users.append(UserSummary(f"user-{i:05d}", f"AIDA{i:016d}", arn, "/", START, groups, ("ReadOnlyAccess",)))
    return users


def report_of(users: list[UserSummary]) -> CredentialReport:
    lines = {}
    for i, user in enumerate(users):
        keys = (ReportedAccessKey(True, START + timedelta(seconds=i), None),) if i % 2 == 0 else ()
        lines[user.name] = UserCredentials(user.name, i % 2 == 0, None, None, False, keys)
    return CredentialReport(START, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    before_index, after_index = index_of(args.users), index_of(args.users, changed=True)
    before = changes.state_of(before_index, report_of(before_index))
    after_report = report_of(after_index)
    after = changes.state_of(after_index, after_report)
    stored = changes.pack(before)
    found = changes.differences(before, after)
    calls = [
        changes.AuditedCall("AddUserToGroup", f"user-{i:05d}", {"GroupName": "Admins"}, START)
        for i in range(0, args.users, 10)
    ]

    def badge() -> int:
        state = changes.unpack(stored)
        diff = changes.differences(state, changes.state_of(after_index, after_report))
        return len(changes.unexplained(diff, calls, index_since=START, credentials_since=START))

    figures = {
        "state": median_ms(lambda: changes.state_of(after_index, after_report), args.repeat),
        "pack": median_ms(lambda: changes.pack(before), args.repeat),
        "unpack": median_ms(lambda: changes.unpack(stored), args.repeat),
        "diff": median_ms(lambda: changes.differences(before, after), args.repeat),
        "explain": median_ms(
            lambda: changes.unexplained(found, calls, index_since=START, credentials_since=START), args.repeat
        ),
        "badge": median_ms(badge, args.repeat),
    }
    print(f"{args.users} users: {len(found)} changes, {len(found) - badge()} explained by {len(calls)} audited calls")
    print(f"stored state: {len(stored) / 1024:.0f} kB compressed")
    for name, value in figures.items():
        print(f"  {name:8} {value:8.1f} ms")


if __name__ == "__main__":
    main()
