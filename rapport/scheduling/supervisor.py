"""One command for the web server, the task worker and the scheduler (`manage.py run`, what
`make run` starts): each is a child process of its own, restarted when it dies, and all of
them stop together on Ctrl-C or SIGTERM.

For development and small installations. Production runs them as separate services (see the
README), so each can be scaled and restarted on its own.

Each child leads its own process group: Ctrl-C reaches only this supervisor, which then stops
every child's whole group (the autoreloaders of runserver and db_worker run the real process
as a grandchild) and waits for the worker to finish its current task.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

# A child that keeps dying within seconds of starting (a port in use, a broken setting) is
# not restarted forever: after this many quick failures in a row everything stops.
QUICK_EXIT_SECONDS = 10.0
MAX_QUICK_FAILURES = 5
MAX_BACKOFF_SECONDS = 30.0


def manage_py_argv(*args: str) -> list[str]:
    """The command line of a manage.py command in a fresh interpreter of this virtualenv."""
    return [sys.executable, "-m", "django", *args]


def background_commands(task_backend: str, *, reload: bool) -> dict[str, list[str]]:
    """The worker and the scheduler for the configured task backend (the `immediate` backend
    runs tasks inside the web process and needs no worker)."""
    commands = {}
    if task_backend == "rq":
        commands["worker"] = manage_py_argv("rqworker", "--job-class", "django_tasks_rq.Job")
    elif task_backend != "immediate":
        commands["worker"] = manage_py_argv("db_worker", "--reload" if reload else "--no-reload")
    commands["scheduler"] = manage_py_argv("scheduler")
    return commands


def _die_with_parent(parent_pid: int) -> None:  # pragma: no cover - runs in the child
    """Linux: the child gets SIGTERM when the supervisor dies without stopping it (SIGKILL)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:
        os._exit(1)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    commands: dict[str, list[str]]
    out: TextIO = sys.stdout
    poll_seconds: float = 0.5
    stop_seconds: float = 15.0
    children: list[Child] = field(init=False)
    stopping: bool = field(default=False, init=False)
    failed: str | None = field(default=None, init=False)

    def __post_init__(self):
        self.children = [Child(name, argv) for name, argv in self.commands.items()]

    def say(self, message: str) -> None:
        self.out.write(f"[rapport run] {message}\n")
        self.out.flush()

    def run(self) -> int:
        """Start every child, restart those that exit, stop all on a signal. Returns the exit
        status: 0 after a requested stop, 1 when a child kept failing."""
        previous = {
            signum: signal.signal(signum, self._request_stop)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        try:
            for child in self.children:
                self._start(child)
            while not self.stopping:
                self._check()
                time.sleep(self.poll_seconds)
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 1 if self.failed else 0

    def _request_stop(self, signum, frame) -> None:
        if self.stopping:  # a second Ctrl-C: do not wait for running tasks
            self.stop_seconds = 0
        self.stopping = True

    def _start(self, child: Child) -> None:
        parent = os.getpid()
        child.process = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
            child.argv,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # lines in order, as they happen
            start_new_session=True,
            preexec_fn=lambda: _die_with_parent(parent),
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        self.say(f"{child.name} started (pid {child.process.pid}): {' '.join(child.argv[1:])}")

    def _check(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            _signal_group(child.process, signal.SIGKILL)  # whatever it left behind
            ran = now - child.started_at
            child.quick_failures = child.quick_failures + 1 if ran < QUICK_EXIT_SECONDS else 0
            if child.quick_failures >= MAX_QUICK_FAILURES:
                self.failed = child.name
                self.say(
                    f"{child.name} exited (status {code}) {child.quick_failures} times in a row "
                    "right after starting: stopping everything (see its output above)"
                )
                self.stopping = True
                return
            delay = min(MAX_BACKOFF_SECONDS, 2.0 ** max(child.quick_failures - 1, 0))
            child.restart_at = now + delay
            self.say(f"{child.name} exited (status {code}); restarting in {delay:.0f} s")

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.process and c.process.poll() is None]
        if running:
            self.say("stopping " + ", ".join(c.name for c in running))
        for child in running:
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for child in self.children:
            if child.process is None:
                continue
            # What is left, including grandchildren of a child that has already exited.
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
