"""A job's pages as its operator's browsers read them, during and after bench/bulk_create.py's
import (c) (RELIABILITY.md L4 and L5); imported as a sibling module. The web side runs in the
bench's own process through Django's test client, as the import's upload and confirm do.

- `ProgressPollers`: browsers, each with its own session of the job's operator, polling the
  job's progress JSON (users:job_progress) as static/js/job_progress.js does: at once, then
  POLL_INTERVAL s after each answer, until it says the job finished. Each poll's latency as the
  client sees it, the polls where the processed count or the percent went down, and whether
  the last answer said finished at 100 %; the pollers' own CPU (their threads', and their
  PostgreSQL backends' pids), which the bench keeps out of the job's.
- `download_credentials`: the credentials CSV (users:job_credentials_csv) through the session
  that started the job, read whole and timed, parsed with `csv.reader`, each row's secrets
  compared with the one-time store's; `keys_not_in_iam`: each row's access key id against IAM.
"""

from __future__ import annotations

import csv
import io
import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

POLL_INTERVAL = 1.0  # s from an answer to the next poll, as the page (which waits at least 1 s)


def yes(value: bool) -> str:
    return "yes" if value else "NO"


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank, as bench/load_test.py: the smallest value with at least `fraction` of the
    values at or below it (NaN if none)."""
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)] if ordered else math.nan


@dataclass
class Poller:
    """One browser's polls."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # an exception or a status other than 200
    decreases: int = 0  # answers whose processed count or percent is below the one before
    last: dict[str, Any] = field(default_factory=dict)  # the last answer
    cpu_seconds: float = 0.0  # its thread's CPU in the polls started while the job was timed

    def take(self, answer: dict[str, Any]) -> None:
        if self.last and any(answer[key] < self.last[key] for key in ("processed", "percent")):
            self.decreases += 1
        self.last = answer

    @property
    def ended_at_100(self) -> bool:
        last = self.last
        return bool(last) and last["finished"] and last["percent"] == 100 and last["processed"] == last["total"]


@dataclass(frozen=True)
class Progress:
    """What the browsers saw of the job's progress."""

    browsers: int
    latencies_ms: list[float]  # every poll's, sorted
    errors: list[str]
    decreases: int
    not_ending_at_100: int  # browsers whose last answer was not "finished, 100 %"
    cpu_seconds: float  # the pollers' CPU in this process while the job was timed

    @property
    def monotonic(self) -> bool:
        return self.decreases == 0

    @property
    def ends_at_100(self) -> bool:
        return self.not_ending_at_100 == 0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies_ms, 0.95)

    @property
    def max_ms(self) -> float:
        return self.latencies_ms[-1] if self.latencies_ms else math.nan

    def describe(self) -> str:
        failed = f" {Counter(self.errors).most_common(3)}" if self.errors else ""
        return (
            f"{self.browsers} browsers polling {POLL_INTERVAL:g} s after each answer:\n"
            f"  {len(self.latencies_ms)} polls, p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, "
            f"max {self.max_ms:.1f} ms; {len(self.errors)} failed{failed}; monotonic {yes(self.monotonic)}; "
            f"ends at 100 % {yes(self.ends_at_100)}"
        )


class ProgressPollers:
    """Browsers (`clients`: Django test clients, each signed in as the job's operator) polling a
    job's progress, each in a thread. Each thread first loads the jobs page, so that its polls,
    like a server's, find the middleware loaded and a database connection open; once `start`ed,
    they poll staggered over the first interval, as browsers opened one after another would.
    `end_timing` when the job's timing ends: the pollers' CPU after that is not counted in
    `Progress.cpu_seconds`, which the bench takes off the job's own CPU."""

    def __init__(self, clients: list[Any]) -> None:
        self._pollers = [Poller() for _ in clients]
        self._url = ""
        self._go, self._timing_over, self._stop = threading.Event(), threading.Event(), threading.Event()
        self._backends: set[int] = set()
        self._lock = threading.Lock()
        ready = threading.Barrier(len(clients) + 1)
        self._threads = [
            threading.Thread(
                target=self._run, args=(client, index * POLL_INTERVAL / len(clients), poller, ready), daemon=True
            )
            for index, (client, poller) in enumerate(zip(clients, self._pollers, strict=True))
        ]
        for thread in self._threads:
            thread.start()
        ready.wait()
        if errors := [error for poller in self._pollers for error in poller.errors]:
            raise SystemExit(f"(c) a progress poller could not load the jobs page: {errors[0]}")

    def start(self, job_id: UUID) -> None:
        from django.urls import reverse

        self._url = reverse("users:job_progress", kwargs={"job_id": job_id}) + "?page=1"  # as the page's
        self._go.set()

    def end_timing(self) -> None:
        self._timing_over.set()

    def backend_pids(self) -> frozenset[int]:
        """The PostgreSQL backends that served the polls so far."""
        with self._lock:
            return frozenset(self._backends)

    def finish(self, timeout: float = 30) -> Progress:
        """Wait up to `timeout` s for every browser to see the job finished, then stop them."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        self._go.set()
        for thread in self._threads:
            thread.join()
        pollers = self._pollers
        return Progress(
            browsers=len(pollers),
            latencies_ms=sorted(ms for poller in pollers for ms in poller.latencies_ms),
            errors=[error for poller in pollers for error in poller.errors],
            decreases=sum(poller.decreases for poller in pollers),
            not_ending_at_100=sum(not poller.ended_at_100 for poller in pollers),
            cpu_seconds=sum(poller.cpu_seconds for poller in pollers),
        )

    def _run(self, client: Any, delay: float, poller: Poller, ready: threading.Barrier) -> None:
        from django.db import connections
        from django.urls import reverse

        try:
            try:
                if (status := client.get(reverse("users:jobs")).status_code) != 200:
                    poller.errors.append(f"HTTP {status}")
            except Exception as exc:
                poller.errors.append(type(exc).__name__)
            self._note_backend()
            ready.wait()
            self._go.wait()
            stopped = self._stop.wait(delay)
            while not stopped:
                finished = self._poll(client, self._url, poller)
                self._note_backend()
                stopped = finished or self._stop.wait(POLL_INTERVAL)
        finally:
            connections.close_all()

    def _note_backend(self) -> None:
        from django.db import connections

        if backend := connections["default"].connection:  # this thread's
            with self._lock:
                self._backends.add(backend.info.backend_pid)

    def _poll(self, client: Any, url: str, poller: Poller) -> bool:
        """One poll, recorded; whether the job finished."""
        timed = not self._timing_over.is_set()
        cpu, start = time.thread_time(), time.perf_counter()
        try:
            response = client.get(url, HTTP_ACCEPT="application/json")
            error = "" if response.status_code == 200 else f"HTTP {response.status_code}"
        except Exception as exc:  # as the page, try again at the next tick
            response, error = None, type(exc).__name__
        poller.latencies_ms.append(1000 * (time.perf_counter() - start))
        if timed:
            poller.cpu_seconds += time.thread_time() - cpu
        if error:
            poller.errors.append(error)
            return False
        poller.take(response.json())
        return bool(poller.last["finished"])


@dataclass
class CredentialsCsv:
    """The credentials CSV as the session that started the job downloaded it."""

    seconds: float  # from the request to the last byte
    first_byte_seconds: float  # from the request to the first line
    size: int  # bytes
    rows: int  # the header aside
    problems: list[str]  # a secret not byte-exact, a user missing or twice, a key not in IAM, …
    keys: dict[str, str]  # access key id by user name, as the CSV has them

    @property
    def exact(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        problems = f", e.g. {self.problems[:5]}" if self.problems else ""
        return (
            f"{self.seconds:.2f} s to the last byte (the first line at {self.first_byte_seconds:.2f} s), "
            f"{self.size:,} bytes, {self.rows} rows; every secret byte-exact and every key id the user's "
            f"in IAM: {yes(self.exact)}{problems}"
        )


def download_credentials(client: Any, job_id: UUID, operator_id: int, users: list[str]) -> CredentialsCsv:
    """Download the CSV with `client` (the session that started the job), read it whole, check
    it holds exactly `users` with the store's secrets, byte-exact."""
    from django.urls import reverse

    start = time.perf_counter()
    response = client.get(reverse("users:job_credentials_csv", kwargs={"job_id": job_id}))
    if response.status_code != 200 or not response.streaming:
        raise SystemExit(f"(c) the credentials CSV answered {response.status_code}")
    chunks = iter(response.streaming_content)
    first = next(chunks, b"")
    first_byte = time.perf_counter()
    body = first + b"".join(chunks)
    seconds = time.perf_counter() - start
    header, *rows = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    return CredentialsCsv(
        seconds=seconds,
        first_byte_seconds=first_byte - start,
        size=len(body),
        rows=len(rows),
        problems=_problems(header, rows, _stored(job_id, operator_id, [row[0] for row in rows]), users),
        keys={row[0]: row[2] for row in rows if len(row) > 2},
    )


def _stored(job_id: UUID, operator_id: int, names: list[str]) -> dict[str, dict[str, str]]:
    """The one-time store's secrets of these users, by item."""
    from users import credentials
    from users.job_items import access_key_item, password_item

    items = [item for name in names for item in (password_item(name), access_key_item(name))]
    return credentials.take_batch(batch=str(job_id), operator_id=operator_id, items=items)


def _problems(
    header: list[str], rows: list[list[str]], stored: dict[str, dict[str, str]], users: list[str]
) -> list[str]:
    """What differs from one row per user with the stored password, key id and secret (never a
    secret itself)."""
    from users.exports import CSV_HEADER
    from users.job_items import access_key_item, password_item

    problems = [] if header == list(CSV_HEADER) else [f"header {header}"]
    counts = Counter(row[0] for row in rows)
    problems += [f"{name}: no row" for name in users if name not in counts]
    problems += [f"{name}: {count} rows" for name, count in counts.items() if count > 1]
    problems += [f"{name}: not imported" for name in counts.keys() - set(users)]
    for row in rows:
        if len(row) != len(CSV_HEADER):
            problems.append(f"{row[0]}: {len(row)} cells")
            continue
        name, password, key_id, secret = row[:4]
        key = stored.get(access_key_item(name), {})
        expected = {
            "password": (password, stored.get(password_item(name), {}).get("password")),
            "access key id": (key_id, key.get("access_key_id")),
            "secret access key": (secret, key.get("secret_access_key")),
        }
        for what, (got, want) in expected.items():
            if want is None:
                problems.append(f"{name}: no {what} in the store")
            elif got.encode() != want.encode():
                problems.append(f"{name}: {what} not byte-exact")
    return problems


def keys_not_in_iam(iam: Any, keys: dict[str, str], threads: int = 8) -> list[str]:
    """The users whose access key id in the CSV is not their one key in IAM (`iam`: a boto3 client)."""

    def problem(name: str) -> str | None:
        found = [key["AccessKeyId"] for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]]
        return None if found == [keys[name]] else f"{name}: access key id not the user's in IAM"

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [found for found in pool.map(problem, keys) if found]
