"""The supervisor of `make run` and `make stack` (iamconsole/supervisor.py), with small shell
components; tests/integration/test_make_run_supervision.py runs the real console under it."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from iamconsole import supervisor
from iamconsole.supervisor import Component, Supervisor, port_in_use
from tests.integration.consoles import alive


@pytest.fixture(autouse=True)
def signal_handlers() -> Iterator[None]:
    """Supervisor.run() installs its stop handlers in this process: put pytest's back afterwards."""
    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {signum: signal.getsignal(signum) for signum in signums}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def shell(name: str, script: str) -> Component:
    return Component(name, f"The {name}", ["sh", "-c", script])


def starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_until(runner: Supervisor, components: list[Component], done: Callable[[], bool]) -> None:
    """Supervise `components` until `done()`, then stop as a failed start does (SystemExit)."""

    def start() -> None:
        for component in components:
            runner.add(component)
        until(done)
        raise SystemExit("done")

    with pytest.raises(SystemExit, match="done"):
        runner.run(start)


def test_it_restarts_a_component_that_exits_with_a_growing_delay(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(supervisor, "BACKOFF_FIRST", 0.1)
    log = tmp_path / "starts"
    run_until(Supervisor("test"), [shell("flaky", f"echo started; echo x >> {log}; exit 3")], lambda: starts(log) == 4)
    out = capsys.readouterr().out
    assert out.count("[flaky] started") >= 3
    delays = [line.rsplit(" in ", 1)[1] for line in out.splitlines() if line.startswith("[test] The flaky exited")]
    assert delays[:3] == ["0.1 s", "0.2 s", "0.4 s"]
    assert "[test] The flaky exited (code 3); restarting it in 0.1 s" in out


def test_it_starts_again_from_the_first_delay_after_a_stable_run(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(supervisor, "BACKOFF_FIRST", 0.1)
    monkeypatch.setattr(supervisor, "STABLE_SECONDS", 0.0)  # every run counts as stable
    log = tmp_path / "starts"
    run_until(Supervisor("test"), [shell("flaky", f"echo x >> {log}; exit 1")], lambda: starts(log) == 3)
    delays = [line.rsplit(" in ", 1)[1] for line in capsys.readouterr().out.splitlines() if "restarting" in line]
    assert delays[:2] == ["0.1 s", "0.1 s"]


def test_it_says_which_signal_killed_a_component(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(supervisor, "BACKOFF_FIRST", 0.1)
    log = tmp_path / "starts"
    run_until(Supervisor("test"), [shell("victim", f"echo x >> {log}; kill -9 $$")], lambda: starts(log) == 2)
    assert "[test] The victim was killed by SIGKILL; restarting it in 0.1 s" in capsys.readouterr().out


def test_a_stop_during_the_wait_for_a_restart_starts_nothing(monkeypatch, tmp_path: Path, capsys) -> None:
    log = tmp_path / "starts"
    began = time.monotonic()
    run_until(Supervisor("test"), [shell("flaky", f"echo x >> {log}; exit 1")], lambda: starts(log) == 1)
    time.sleep(1.5)  # past the first delay, had the stop not come
    assert starts(log) == 1
    assert time.monotonic() - began < 5


def test_it_kills_what_does_not_stop_in_time_and_what_its_children_left(monkeypatch, tmp_path: Path) -> None:
    """A component that ignores SIGTERM, and its child (same process group), are killed STOP_SECONDS later."""
    monkeypatch.setattr(supervisor, "STOP_SECONDS", 0.5)
    pids = tmp_path / "pids"
    stubborn = shell("stubborn", f"trap '' TERM; sleep 60 & echo $$ $! > {pids}; wait")
    run_until(Supervisor("test"), [stubborn], lambda: pids.exists() and len(pids.read_text().split()) == 2)
    found = [int(pid) for pid in pids.read_text().split()]
    until(lambda: not any(alive(pid) for pid in found), 5)


def test_it_stops_the_layers_one_after_the_other_the_last_added_first(tmp_path: Path) -> None:
    """The broker's layer stops only once its users' layer has stopped (a worker's warm shutdown needs it)."""
    log = tmp_path / "log"
    base = shell("base", f"trap 'echo base stopped >> {log}; exit 0' TERM; echo up >> {log}; sleep 60 & wait")
    user = shell(
        "user", f"trap 'sleep 0.5; echo user stopped >> {log}; exit 0' TERM; echo up >> {log}; sleep 60 & wait"
    )
    runner = Supervisor("test")

    def start() -> None:
        runner.add(base)
        runner.add(user)
        until(lambda: starts(log) == 2)
        raise SystemExit("done")

    with pytest.raises(SystemExit, match="done"):
        runner.run(start)
    assert log.read_text().splitlines()[2:] == ["user stopped", "base stopped"]


def test_it_waits_for_a_components_ready_line(tmp_path: Path) -> None:
    runner = Supervisor("test")
    answers: list[bool] = []

    def start() -> None:
        runner.add(
            Component("slow", "The slow", ["sh", "-c", "sleep 0.3; echo now ready; sleep 60"], ready_line="ready")
        )
        runner.add(Component("broken", "The broken", ["sh", "-c", "exit 1"], ready_line="ready"))
        answers.extend([runner.wait_ready("slow", 10), runner.wait_ready("broken", 10)])
        raise SystemExit("done")

    with pytest.raises(SystemExit, match="done"):
        runner.run(start)
    assert answers == [True, False]


def test_it_interrupts_on_the_first_stop_signal_only() -> None:
    """A second SIGTERM or Ctrl-C while it stops its children must not interrupt the stop
    (tests/integration/test_make_run_stop.py runs the real thing)."""
    runner = Supervisor("test")
    with pytest.raises(KeyboardInterrupt):
        runner._interrupt(signal.SIGTERM, None)
    runner._interrupt(signal.SIGINT, None)
    runner._interrupt(signal.SIGTERM, None)


def test_it_sees_that_nothing_listens_on_a_closed_port() -> None:
    assert not port_in_use("127.0.0.1", 9)


def test_the_compose_stack_restarts_every_service_that_stops() -> None:
    """The containers' counterpart of the supervisor: docker restarts a service that exits or is killed."""
    compose = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text())
    policies = {name: service.get("restart") for name, service in compose["services"].items()}
    assert policies == dict.fromkeys(["web", "worker", "redis", "postgres", "moto"], "unless-stopped")
