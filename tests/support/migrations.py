"""Moving the test database between migrations (tests/test_signing_keys.py)."""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(*targets: tuple[str, str]) -> Apps:
    """Migrate the database to ``targets`` (default: every app's latest migration) and
    return the models as they are there."""
    executor = MigrationExecutor(connection)
    to = list(targets) or executor.loader.graph.leaf_nodes()
    executor.migrate(to)
    executor.loader.build_graph()
    return executor.loader.project_state(to).apps
