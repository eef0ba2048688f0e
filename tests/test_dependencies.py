"""One HTTP stack, and every package the code imports declared once in pyproject.toml
and pinned in the lock files."""


from tests.support.dependencies import (
    APPS,
    DEV,
    RUNTIME,
    distributions,
    imported,
    locked,
    via,
)


def test_each_package_is_declared_once():
    assert len(RUNTIME + DEV) == len(set(RUNTIME + DEV))


def test_one_http_stack():
    """Nothing declares requests, responses or urllib3, and a runtime install has requests
    only for OpenTelemetry's OTLP/HTTP exporter, which sends spans when an endpoint is
    configured (urllib3 may come with another package; ruff bans importing either)."""
    assert not {"requests", "responses", "urllib3"} & set(RUNTIME + DEV)
    assert set(via("requirements.lock", "requests")) == {
        "opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-http-transport"}
    assert via("requirements.lock", "opentelemetry-exporter-http-transport") == [
        "opentelemetry-exporter-otlp-proto-http"]


def test_what_the_code_imports_is_a_runtime_dependency():
    assert distributions(imported(APPS)) <= set(RUNTIME)


def test_what_the_tests_import_is_declared():
    assert distributions(imported(["tests"])) <= set(RUNTIME + DEV)


def test_the_lock_files_pin_every_declared_package():
    assert set(RUNTIME) <= locked("requirements.lock")
    assert set(RUNTIME + DEV) <= locked("requirements-dev.lock")
