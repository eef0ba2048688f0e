"""One HTTP stack, and every package the code imports declared once in pyproject.toml
and pinned in the lock files."""


from tests.support.dependencies import APPS, DEV, RUNTIME, distributions, imported, locked


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
