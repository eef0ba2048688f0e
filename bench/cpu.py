"""CPU accounting for the benchmarks, read from /proc.

Each component is a set of process trees (a root pid and its descendants).
Its CPU over an interval is what its live processes used plus what its
reaped children used (``cutime``/``cstime`` of the parents), so processes that
exit during the run (PostgreSQL backends, gunicorn workers) still count. The
components' sum is checked against the machine's busy time from /proc/stat
over the same interval.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat(pid: int, own_only: bool = False) -> tuple[int, float] | None:
    """Return (parent pid, CPU seconds of the process and its reaped children; of the
    process alone with ``own_only``)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    if own_only:
        return ppid, (utime + stime) / TICK
    return ppid, (utime + stime + cutime + cstime) / TICK


def _snapshot() -> dict[int, tuple[int, float]]:
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found[int(entry.name)] = stat
    return found


def _tree_seconds(roots: set[int], table: dict[int, tuple[int, float]]) -> float:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        todo += children.get(pid, [])
    return total


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (all but idle, iowait and steal)."""
    values = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, _steal = values[:8]
    return (user + nice + system + irq + softirq) / TICK


@dataclass
class Meter:
    """Measure named components (root pids) over an interval. Components named in
    ``alone`` count their own processes only: the bench process is the parent of the
    receiver, the workers and beat, which are components of their own."""

    components: dict[str, set[int]]
    alone: frozenset[str] = frozenset()
    start: dict[str, float] = field(default_factory=dict)
    busy_start: float = 0.0

    def read(self) -> dict[str, float]:
        table = _snapshot()
        found = {}
        for name, roots in self.components.items():
            if name in self.alone:
                stats = [_stat(pid, own_only=True) for pid in roots]
                found[name] = sum(stat[1] for stat in stats if stat)
            else:
                found[name] = _tree_seconds(roots, table)
        return found

    def begin(self) -> None:
        self.start = self.read()
        self.busy_start = machine_busy_seconds()

    def end(self, units: int) -> dict:
        """CPU per component over the interval, in ms per unit of work, with the check."""
        now = self.read()
        busy = machine_busy_seconds() - self.busy_start
        used = {name: max(0.0, now[name] - self.start.get(name, 0.0)) for name in now}
        total = sum(used.values())
        per = {name: round(1000 * seconds / max(units, 1), 4) for name, seconds in used.items()}
        agreement = total / busy if busy > 0 else 0.0
        return {
            "units": units,
            "cpu_seconds": {name: round(seconds, 3) for name, seconds in used.items()},
            "cpu_ms_per_unit": per,
            "cpu_ms_per_unit_total": round(1000 * total / max(units, 1), 4),
            "machine_busy_seconds": round(busy, 3),
            "components_over_machine": round(agreement, 3),
            "accounted": abs(agreement - 1) <= 0.10,
        }


def postgres_root(backend_pid: int) -> int:
    """The postmaster: the parent of one of its backends."""
    stat = _stat(backend_pid)
    return stat[0] if stat else backend_pid
