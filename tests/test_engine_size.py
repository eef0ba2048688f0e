"""P15 (6): the delivery engine stays small: no module of callbacks/delivery/ over 400
lines, no class over 150."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = sorted((Path(__file__).resolve().parent.parent / "callbacks" / "delivery").glob("*.py"))


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_no_engine_module_is_over_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_no_engine_class_is_over_150_lines(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sizes = {node.name: (node.end_lineno or 0) - node.lineno + 1
             for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    assert {name: size for name, size in sizes.items() if size > 150} == {}


def test_the_engine_is_the_package_the_contract_names():
    assert {p.name for p in ENGINE} >= {"claims.py", "dispatcher.py", "recording.py"}
