"""The dependency check's inputs: what pyproject.toml declares, what the lock files pin,
what the code imports."""

import ast
import re
import sys
import tomllib
from importlib import metadata
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["camio_portal", "apikit", "domains", "callbacks", "incidents", "pacs"]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def name(requirement: str) -> str:
    return re.split(r"[\[=<>!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


RUNTIME = [name(r) for r in PROJECT["dependencies"]]
DEV = [name(r) for r in PROJECT["optional-dependencies"]["dev"]]


def locked(path: str) -> set[str]:
    text = (ROOT / path).read_text()
    return {m.lower() for m in re.findall(r"^([A-Za-z0-9._-]+)==", text, re.M)}


def via(path: str, package: str) -> list[str]:
    """What brings ``package`` into a lock file (pip-compile's ``# via`` lines)."""
    text = (ROOT / path).read_text()
    match = re.search(rf"^{re.escape(package)}==.*?\n((?:    .*\n)+)", text, re.M)
    if match is None:
        return []
    lines = [line.strip().removeprefix("#").strip() for line in match.group(1).splitlines()]
    names = [line.removeprefix("via").strip() for line in lines if not line.startswith("--")]
    return sorted(n.split(" ")[0] for n in names if n)


def imported(folders: list[str]) -> set[str]:
    """What the Python files under ``folders`` import (dotted names; ``from a import b`` is
    ``a.b``, a module or a name in one), not our own."""
    found = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found |= {f"{node.module}.{alias.name}" for alias in node.names}
    ours = {*sys.stdlib_module_names, *APPS, "tests", "__future__"}
    return {module for module in found if module.split(".")[0] not in ours}


def distributions(modules: set[str]) -> set[str]:
    """The distributions that ship ``modules``. A namespace package several distributions
    share (``opentelemetry``) is judged by the module's own files."""
    owners = packages_distributions()
    found = set()
    for module in modules:
        candidates = owners.get(module.split(".")[0], [module.split(".")[0]])
        parts = module.split(".")
        while len(candidates) > 1 and len(parts) > 1:  # the longest name a file ships
            candidates = [d for d in candidates if _ships(d, ".".join(parts))] or candidates
            parts.pop()
        found |= {d.lower().replace("_", "-") for d in candidates}
    return found


def _ships(distribution: str, module: str) -> bool:
    wanted = module.replace(".", "/")
    files = metadata.files(distribution) or []
    return any(str(f) in (f"{wanted}.py", f"{wanted}/__init__.py") for f in files)
