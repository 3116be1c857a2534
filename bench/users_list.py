"""How the users list scales: render time and IAM calls of the page at N users.

Starts the embedded IAM backend in this process, fills it with N users directly through
moto's backend (setting up 5,000 users over HTTP would take minutes and is not what is
measured): every 2nd user with a password, every 10th with an access key. Then renders the
users list (the AWS default columns) through Django's test client, a few times each:
  (cold)     GET /users/?refresh=1 — the first page of 25, users index and credential
             report read from IAM;
  (page)     GET /users/ — the same with both cached (the usual case);
  (search)   GET /users/?q=<an access key id>;
  (report)   the credential report alone, read from IAM and parsed (part of cold);
  (baseline) one plain boto3 ListUsers of all users on the same server: the least any
             list of N users costs against this backend.
Prints the median seconds of each, the ratio page/baseline, and the IAM calls per page.

    .venv/bin/python bench/users_list.py --users 5000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import embedded_console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    server = embedded_console.start()
    import boto3
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    from users.iam.counter import CALLS
    from users.iam.gateway import IamGateway

    setup_test_environment()  # lets the client see the template context
    call_command("migrate", verbosity=0)
    backend = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    for group in ("Developers", "Admins", "Auditors"):
        backend.create_group(group)
    key_id = None
    for i in range(args.users):
        name = f"user{i:05d}"
        backend.create_user("us-east-1", name)
        backend.add_user_to_group(("Developers", "Admins", "Auditors")[i % 3], name)
        if i % 2 == 0:
            backend.create_login_profile(name, "Bench-Passw0rd!")
        if i % 10 == 0:
            key_id = backend.create_access_key(name).access_key_id

    client = Client()
    client.force_login(get_user_model().objects.create_user("bench"))
    iam = boto3.client("iam", endpoint_url=server.url, region_name="us-east-1")
    client.get("/users/")  # warm caches (account info) once

    def list_page() -> None:
        assert client.get("/users/").status_code == 200

    def cold_page() -> None:
        assert client.get("/users/", {"refresh": "1"}).status_code == 200

    def search_key() -> None:
        assert key_id is not None  # user00000 has one
        response = client.get("/users/", {"q": key_id})
        assert len(response.context["rows"]) == 1

    def report() -> None:
        assert len(IamGateway.from_settings().credential_report(fresh=True).users) == args.users

    def baseline() -> None:
        for _page in iam.get_paginator("list_users").paginate():
            pass

    with CALLS.measure() as cold_calls:
        cold_page()
    with CALLS.measure() as calls:
        list_page()
    cold = median_seconds(cold_page, args.repeat)
    page = median_seconds(list_page, args.repeat)
    search = median_seconds(search_key, args.repeat)
    report_read = median_seconds(report, args.repeat)
    base = median_seconds(baseline, args.repeat)
    print(f"users: {args.users}")
    print(
        f"users list, index from IAM: {cold:.3f} s median, {cold_calls.total} IAM calls {dict(cold_calls.by_operation)}"
    )
    print(f"users list, cached index:   {page:.3f} s median, {calls.total} IAM calls {dict(calls.by_operation)}")
    print(f"search by access key id:    {search:.3f} s median")
    print(f"credential report alone:    {report_read:.3f} s median")
    print(f"baseline boto3 ListUsers:   {base:.3f} s median")
    print(f"ratio cold page / baseline: {cold / base:.2f}")
    print(f"ratio page / baseline:      {page / base:.2f}")
    server.stop()


if __name__ == "__main__":
    main()
