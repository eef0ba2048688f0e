"""The dependency check's inputs: what pyproject.toml declares, what the lock files pin,
what the code imports."""

import ast
import re
import sys
import tomllib
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


def imported(folders: list[str]) -> set[str]:
    """Top-level modules imported by the Python files under ``folders`` (not our own)."""
    found = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {*APPS, "tests", "__future__"}


def distributions(modules: set[str]) -> set[str]:
    owners = packages_distributions()
    return {d.lower().replace("_", "-") for m in modules for d in owners.get(m, [m])}
