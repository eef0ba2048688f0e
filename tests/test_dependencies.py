"""One HTTP stack, and every package the code imports declared once in pyproject.toml
and pinned in the lock files."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

# Not about the database or broker: CI runs it once, on SQLite.
pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parent.parent
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


def test_each_package_is_declared_once():
    assert len(RUNTIME + DEV) == len(set(RUNTIME + DEV))


def test_one_http_stack():
    """Nothing declares requests, responses or urllib3, and a runtime install has no
    requests (urllib3 may come with another package; ruff bans importing it)."""
    assert not {"requests", "responses", "urllib3"} & set(RUNTIME + DEV)
    assert "requests" not in locked("requirements.lock")


def test_what_the_code_imports_is_a_runtime_dependency():
    assert distributions(imported(APPS)) <= set(RUNTIME)


def test_what_the_tests_import_is_declared():
    assert distributions(imported(["tests"])) <= set(RUNTIME + DEV)


def test_the_lock_files_pin_every_declared_package():
    assert set(RUNTIME) <= locked("requirements.lock")
    assert set(RUNTIME + DEV) <= locked("requirements-dev.lock")
