"""CPU time and memory of groups of processes, read from /proc (Linux): bench/bulk_create.py's
measures, imported as a sibling module (the bench runs as a script from its file).

- `PeakMemory`: a thread that samples the RSS and PSS summed over each group of processes (a
  function returning their pids, e.g. `process_tree(pid)`: a Celery worker and its prefork
  children) and keeps the peaks;
- `cpu_snapshot(ours)` and `cpu_used(before, ours)`: the CPU seconds every process used between
  the two, by group: "bench" (this process), "worker" (`ours.workers`), "pollers"
  (`ours.pollers`), then CPU_GROUPS by command line ("moto", "proxy", "postgres", "redis"), else
  "other". `Ours` tells this bench's processes from others' on a shared machine.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


def proc_kib(pid: int, path: str, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as file:
            for line in file:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (a Celery worker and its prefork children)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as file:
                    todo += [int(child) for child in file.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return pids


class PeakMemory(threading.Thread):
    """Samples, every `interval` s, the RSS and PSS (RSS with shared pages split between their
    sharers: prefork children share much with their parent) summed over each group of
    processes, and keeps the peaks. Read from /proc; in MiB."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.groups, self.interval = groups, interval
        self.peak_rss = dict.fromkeys(groups, 0.0)
        self.peak_pss = dict.fromkeys(groups, 0.0)
        self.peak_process_rss = dict.fromkeys(groups, 0.0)
        self._stopping = threading.Event()

    def run(self) -> None:
        while True:
            self.sample()
            if self._stopping.wait(self.interval):
                self.sample()
                return

    def sample(self) -> None:
        for group, find_pids in self.groups.items():
            pids = find_pids()
            rss = [proc_kib(pid, "status", "VmRSS") / 1024 for pid in pids]
            pss = sum(proc_kib(pid, "smaps_rollup", "Pss") / 1024 for pid in pids)
            self.peak_rss[group] = max(self.peak_rss[group], sum(rss))
            self.peak_pss[group] = max(self.peak_pss[group], pss)
            self.peak_process_rss[group] = max(self.peak_process_rss[group], max(rss, default=0.0))

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def describe(self, group: str) -> str:
        return (
            f"peak {self.peak_rss[group]:.0f} MiB RSS summed ({self.peak_pss[group]:.0f} MiB PSS), "
            f"largest process {self.peak_process_rss[group]:.0f} MiB"
        )


CPU_GROUPS = (  # (group, what its processes' command lines contain), the first match wins
    ("moto", "users.iam.embedded"),
    ("proxy", "tests.iam_proxy"),
    ("postgres", "postgres"),
    ("redis", "redis-server"),
)
# A PostgreSQL backend's command line: "postgres: [cluster: ]user database client state".
POSTGRES_BACKEND = re.compile(r"^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Ours:
    """What tells the bench's processes from others' on a shared machine: the worker's processes
    (another Celery worker is "other") and its PostgreSQL database (a backend serving another
    database is "other"; the server's own processes are counted), and the PostgreSQL backends
    of the progress pollers (bench/job_pages.py), counted apart from the job's."""

    database: str
    workers: frozenset[int] = frozenset()
    pollers: frozenset[int] = frozenset()


def process_group(pid: int, command: str, ours: Ours) -> str:
    """The group of a process: "bench" (this one), "worker" and "pollers" (ours), CPU_GROUPS,
    else "other"."""
    if pid == os.getpid():
        return "bench"
    if pid in ours.workers:
        return "worker"
    if pid in ours.pollers:
        return "pollers"
    group = next((name for name, marker in CPU_GROUPS if marker in command), "other")
    backend = POSTGRES_BACKEND.match(command) if group == "postgres" else None
    return "other" if backend and backend[1] != ours.database else group


def cpu_snapshot(ours: Ours) -> dict[tuple[int, int], tuple[str, int]]:
    """Every process's CPU time so far (user + system, in clock ticks), keyed by pid and start
    time, with its group (`process_group`)."""
    snapshot = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                command = file.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        ticks, started = int(fields[11]) + int(fields[12]), int(fields[19])
        pid = int(entry)
        snapshot[(pid, started)] = (process_group(pid, command, ours), ticks)
    return snapshot


def cpu_used(before: dict[tuple[int, int], tuple[str, int]], ours: Ours) -> dict[str, float]:
    """CPU seconds by group since `before` (a process that ended meanwhile is not counted)."""
    used: Counter[str] = Counter()
    for key, (group, ticks) in cpu_snapshot(ours).items():
        used[group] += ticks - before.get(key, (group, 0))[1]
    return {group: ticks / TICKS_PER_SECOND for group, ticks in used.most_common()}
