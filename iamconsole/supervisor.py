"""A small process manager for `make run` and `make stack`: named components, each a child process
in a process group (session) of its own, kept running until SIGINT, SIGTERM or SIGHUP.

A component that exits is started again after 1 s, 2 s, 4 s … (30 s at most; back to 1 s once it
has stayed up a minute), with a line in the output, while the others keep serving. Its output is
echoed with its name as a prefix. Components are added in layers (Redis; then the web server and
the workers that use it …). On a stop signal the layers stop one after the other, the last added
first, so that a worker's warm shutdown still finds its broker: each layer's components are asked
to stop, and whatever of their process groups is still running STOP_SECONDS later is killed. A
second signal (Ctrl-C twice; a service manager's SIGTERM that make forwards too) does not
interrupt that.

Components are started and restarted by the supervisor's thread, never by the main thread, where
Python runs signal handlers: a signal's KeyboardInterrupt cannot land between a child's start and
its record, so stop() knows every child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

BACKOFF_FIRST = 1.0  # seconds before the first restart; doubled after each one
BACKOFF_MAX = 30.0
STABLE_SECONDS = 60.0  # a component up this long starts again from BACKOFF_FIRST when it exits
STOP_SECONDS = 20  # for a layer's components to stop, all together, before they are killed
TICK = 0.2  # how often the supervisor looks at its children


@dataclass(frozen=True)
class Component:
    name: str  # the prefix of its output lines, e.g. "worker"
    title: str  # what the supervisor's lines call it, e.g. "The Celery worker"
    command: list[str]
    ready_line: str = ""  # output that says it serves (wait_ready); "" when starting is enough
    stop_signal: signal.Signals = signal.SIGTERM


@dataclass
class _Child:
    component: Component
    layer: int
    process: subprocess.Popen[str] | None = None
    started_at: float = 0.0
    restart_at: float = 0.0  # when the supervisor starts it (again) while `process` is None
    restarts: int = 0  # since it last stayed up STABLE_SECONDS
    exits: int = 0
    ready: threading.Event = field(default_factory=threading.Event)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, seconds: float) -> bool:
    """True once `url` answers 200, False after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited (code {returncode})"


class Supervisor:
    """Start components with add(), then run() until a stop signal; see the module's docstring."""

    def __init__(self, name: str) -> None:
        self.prefix = f"[{name}] "
        self._children: list[_Child] = []
        self._lock = threading.Lock()  # the children; held while one is started or tended
        self._stopping = threading.Event()

    def say(self, message: str) -> None:
        print(f"{self.prefix}{message}", flush=True)

    def run(self, start: Callable[[], None]) -> None:
        """Call `start` (which adds the components and may wait for them), then supervise until
        SIGINT, SIGTERM or SIGHUP; stop every component however this ends."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._interrupt)  # SIGINT even when started with it ignored (in the background)
        threading.Thread(target=self._watch, name="supervisor", daemon=True).start()
        # The inner `finally` sets _stopping however the start or the wait ends: from then on signals
        # are ignored, and a signal that comes before it raises inside the outer `try`, so _stop_all()
        # always runs whole.
        try:
            try:
                start()
                while True:
                    time.sleep(3600)
            finally:
                self._stopping.set()
        except KeyboardInterrupt:
            print("\nStopping…", flush=True)
        finally:
            self._stop_all()

    def _interrupt(self, signum: int, frame: object) -> None:
        """The first signal interrupts the start or the wait; any later one is ignored: stopping is under way."""
        if not self._stopping.is_set():
            self._stopping.set()
            raise KeyboardInterrupt

    def add(self, *components: Component) -> None:
        """Start a layer of components (within a TICK) and keep them running; they stop together,
        before the layers added earlier."""
        with self._lock:
            layer = len({child.layer for child in self._children})
            self._children += [_Child(component, layer, restart_at=time.monotonic()) for component in components]

    def wait_ready(self, name: str, seconds: float) -> bool:
        """True once the component `name` printed its ready line; False if it exited first, or after `seconds`."""
        child = next(child for child in self._children if child.component.name == name)
        deadline = time.monotonic() + seconds
        while not child.ready.is_set():
            if child.exits or time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    # --- the supervisor's thread ------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.wait(TICK):
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in self._children:
                    self._tend(child, time.monotonic())

    def _tend(self, child: _Child, now: float) -> None:
        """Start a child that is due, or note that one exited and when it starts again."""
        if child.process is None:
            if now >= child.restart_at:
                self._spawn(child)
            return
        returncode = child.process.poll()
        if returncode is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)  # what it leaves behind: Celery's pool, gunicorn's workers
        if now - child.started_at >= STABLE_SECONDS:
            child.restarts = 0
        delay = min(BACKOFF_FIRST * 2**child.restarts, BACKOFF_MAX)
        child.restarts += 1
        child.exits += 1
        child.process, child.restart_at = None, now + delay
        self.say(f"{child.component.title} {_describe_exit(returncode)}; restarting it in {delay:g} s")

    def _spawn(self, child: _Child) -> None:
        component = child.component
        child.ready.clear()
        try:
            child.process = subprocess.Popen(
                component.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its lines as they come, through our pipe
                start_new_session=True,  # stopping it stops its children too; Ctrl-C reaches only us
            )
        except OSError as error:
            child.exits += 1
            child.restart_at = time.monotonic() + BACKOFF_MAX
            self.say(f"{component.title} cannot start ({error}); trying again in {BACKOFF_MAX:g} s")
            return
        child.started_at = time.monotonic()
        if not component.ready_line:
            child.ready.set()
        assert child.process.stdout is not None
        threading.Thread(target=self._echo, args=(child, child.process.stdout), daemon=True).start()

    def _echo(self, child: _Child, stream: IO[str]) -> None:
        prefix, ready_line = f"[{child.component.name}] ", child.component.ready_line
        for line in stream:
            with contextlib.suppress(OSError, ValueError):  # our stdout is gone: keep draining the pipe
                sys.stdout.write(f"{prefix}{line}")
                sys.stdout.flush()
            if ready_line and ready_line in line:
                child.ready.set()

    # --- stopping ---------------------------------------------------------------------------

    def _stop_all(self) -> None:
        """Stop every layer, the last added first. Runs once _stopping is set: no signal interrupts
        it, and the supervisor's thread starts nothing more once it is set."""
        with self._lock:
            children = list(self._children)
        for layer in sorted({child.layer for child in children}, reverse=True):
            self._stop_layer([child for child in children if child.layer == layer])

    @staticmethod
    def _stop_layer(children: list[_Child]) -> None:
        """Ask each running child to stop, then kill whatever of its process group is left after STOP_SECONDS."""
        running = [(child.process, child.component.stop_signal) for child in children if child.process]
        for process, stop_signal in running:
            if process.poll() is None:
                process.send_signal(stop_signal)  # the leader shuts its own workers down gracefully
        deadline = time.monotonic() + STOP_SECONDS
        for process, _ in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever of its group is left
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
