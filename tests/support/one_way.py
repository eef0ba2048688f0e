"""The one-way delivery check (tests/test_one_way.py): a copy of the project and a tracer
of what its processes write."""

from __future__ import annotations

import inspect
import shutil
import threading
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("apikit", "domains", "callbacks", "incidents", "pacs", "camio_portal")


def project_file(filename: str) -> str | None:
    try:
        relative = Path(filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    if relative.parts[0] not in APPS or "migrations" in relative.parts:
        return None
    return str(relative)


RESUMABLE = inspect.CO_COROUTINE | inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR


# Threads that are not the path of a change: the worker's liveness heartbeat.
OFF_THE_PATH = frozenset({"worker-heartbeat"})


class Tracer:
    """Record, per thread, the project files entered and who called whom (file to file)."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, None]] = defaultdict(dict)  # thread -> files in order
        self.calls: dict[str, set[tuple[str, str]]] = defaultdict(set)  # thread -> edges
        self.resumed: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, frame, event, arg):  # the profile hook
        if event != "call":
            return
        here = project_file(frame.f_code.co_filename)
        if here is None:
            return
        if frame.f_code.co_flags & RESUMABLE:  # a coroutine resumed is not a new entry
            if id(frame) in self.resumed:
                return
            self.resumed.add(id(frame))
        caller = frame.f_back
        while caller is not None and project_file(caller.f_code.co_filename) is None:
            caller = caller.f_back
        source = project_file(caller.f_code.co_filename) if caller is not None else None
        thread = threading.current_thread().name
        if thread in OFF_THE_PATH:
            return
        with self.lock:
            self.files[thread].setdefault(here)
            if source is not None and source != here:
                self.calls[thread].add((source, here))

    def forget(self) -> None:
        """Drop what was recorded so far (a worker's start-up: not the path traced)."""
        with self.lock:
            self.files.clear()
            self.calls.clear()

    def back_calls(self) -> list[str]:
        """Calls that climb back up: a file calling one that (transitively) called it."""
        found = []
        for thread, edges in self.calls.items():
            below: dict[str, set[str]] = defaultdict(set)
            for source, target in edges:
                below[source].add(target)
            for source, target in edges:
                todo, seen = [target], set()
                while todo:
                    node = todo.pop()
                    if node == source:
                        found.append(f"{thread}: {source} -> {target} -> ... -> {source}")
                        break
                    if node not in seen:
                        seen.add(node)
                        todo += below[node]
        return found


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    for app in APPS:
        shutil.copytree(ROOT / app, copy / app, ignore=shutil.ignore_patterns("__pycache__"))
    return copy
