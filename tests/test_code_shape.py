"""Tests that read like prose (P12): every test module holds at least as much test code as
helper code, defines no fixtures (they live in conftest.py), and no fixture anywhere hides
one of pytest-django's."""

from __future__ import annotations

import pytest

from tests.support.shape import TESTS, conftests, module_paths, shape

MODULES = pytest.mark.parametrize(
    "path", module_paths(), ids=lambda p: str(p.relative_to(TESTS))
)


@MODULES
def test_a_test_module_holds_no_more_helper_code_than_test_code(path):
    found = shape(path)
    assert found.helper_lines <= found.test_lines, (
        f"{found.name}: {found.helper_lines} lines of helper code, {found.test_lines} of tests;"
        " move helpers to tests/support/ and fixtures to conftest.py"
    )


@MODULES
def test_a_test_module_defines_no_fixtures(path):
    found = shape(path)
    assert found.fixtures == [], f"{found.name} defines {found.fixtures}: move them to conftest.py"


@MODULES
def test_a_test_module_hides_no_pytest_django_fixture(path):
    found = shape(path)
    assert found.shadowing == [], f"{found.name} redefines pytest-django's {found.shadowing}"


@pytest.mark.parametrize("path", conftests(), ids=lambda p: str(p.relative_to(TESTS)))
def test_a_conftest_hides_no_pytest_django_fixture(path):
    found = shape(path)
    assert found.shadowing == [], f"{found.name} redefines pytest-django's {found.shadowing}"


def test_the_measure_sees_every_test_module():
    assert len(module_paths()) >= 60
    assert all(shape(path).test_lines > 0 for path in module_paths())
