"""Carry a data folder of the SQLite era (before P14) over to the embedded PostgreSQL.

The one module that reads SQLite. ``make run`` calls ``import_legacy`` when the data
folder has ``camio.sqlite3`` (``legacy_database``) and the embedded server has no
portal database yet:

1. a scratch database ``<name>_import`` is migrated to exactly the migrations the SQLite
   file has applied, so its tables have the same columns;
2. every row of every table is copied through Django's historical models (which convert
   SQLite's text dates, 0/1 booleans and JSON text; encrypted fields are decrypted and
   encrypted again with the same keys), in one transaction, with a progress bar;
3. the migrations the SQLite file had not applied run on the copied rows (e.g. P13's
   signing keys made from each endpoint's secret), then the database's sequences are
   set past the copied ids;
4. only then is the scratch database renamed to ``<name>``: an import cut short leaves
   nothing half done, and the next start imports again. The SQLite file is kept.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from django.apps.registry import Apps
from django.core.management.color import no_style
from django.db import connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import ConnectionHandler
from tqdm import tqdm

FILE_NAME = "camio.sqlite3"  # where the SQLite-era launcher kept everything
LEGACY = "sqlite_legacy"
TARGET = "default"
CHUNK = 2000


class ImportRefused(RuntimeError):
    """The SQLite file cannot be imported; the message says why."""


def legacy_database(data_dir: Path) -> Path | None:
    """The data folder's SQLite database of the SQLite era, if it has one."""
    path = data_dir / FILE_NAME
    return path if path.exists() else None


def import_legacy(path: Path, dbname: str, out: TextIO = sys.stderr) -> dict[str, int]:
    """Import the SQLite database at ``path`` into a new PostgreSQL database ``dbname`` on
    the default connection's server; return the rows copied per table."""
    scratch = f"{dbname}_import"
    _recreate(scratch)
    _register(LEGACY, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)})
    # The scratch database stands in as "default": data migrations write there.
    target = connections[TARGET]
    target.close()
    target.settings_dict["NAME"] = scratch
    try:
        targets = applied_leaves(LEGACY)
        print(f"Importing {path} (SQLite) into PostgreSQL database {dbname} ...", file=out,
              flush=True)
        executor = MigrationExecutor(target)
        executor.migrate(targets)
        state = executor.loader.project_state(targets)
        copied = copy_tables(state.apps, LEGACY, TARGET, out)
        latest = MigrationExecutor(target)
        latest.migrate(latest.loader.graph.leaf_nodes())
        _reset_sequences(TARGET)
    finally:
        connections[LEGACY].close()
        target.close()
        target.settings_dict["NAME"] = dbname
    with _maintenance() as cursor:
        cursor.execute(f'ALTER DATABASE "{scratch}" RENAME TO "{dbname}"')
    print(f"Imported {sum(copied.values())} rows of {len(copied)} tables; {path} is kept.",
          file=out, flush=True)
    return copied


def applied_leaves(alias: str) -> list[tuple[str, str]]:
    """The last migration of each app the database at ``alias`` has applied; refuse a file
    with migrations this code does not have (made by a newer portal)."""
    executor = MigrationExecutor(connections[alias])
    applied = set(executor.loader.applied_migrations)
    if not applied:
        raise ImportRefused(f"{connections[alias].settings_dict['NAME']} holds no portal data.")
    unknown = applied - set(executor.loader.graph.nodes)
    if unknown:
        names = ", ".join(f"{app}.{name}" for app, name in sorted(unknown))
        raise ImportRefused(f"The SQLite database has migrations this portal lacks ({names}): "
                            "it was made by a newer version.")
    graph = executor.loader.graph
    return sorted(node for node in applied
                  if not any(child in applied and child[0] == node[0]
                             for child in graph.node_map[node].children))


def copy_tables(apps: Apps, source: str, target: str, out: TextIO) -> dict[str, int]:
    """Copy every row of every table of ``apps`` (a migration state's models) from
    ``source`` to ``target`` in one transaction; return the count per table."""
    tables = _models(apps)
    counts = {model._meta.db_table: model._base_manager.using(source).count()
              for model in tables}
    copied: dict[str, int] = {}
    with transaction.atomic(using=target), tqdm(
        total=sum(counts.values()), unit="rows", file=out, disable=None, mininterval=0.5
    ) as bar:
        with connections[target].cursor() as cursor:  # rows data migrations inserted
            names = ", ".join(connections[target].ops.quote_name(m._meta.db_table)
                              for m in tables)
            cursor.execute(f"TRUNCATE {names} CASCADE")
        for model in tables:
            table = model._meta.db_table
            _keep_timestamps(model)
            bar.set_description(table)
            rows = model._base_manager.using(source).order_by("pk").iterator(chunk_size=CHUNK)
            copied[table] = 0
            for chunk in _chunks(rows, CHUNK):
                model._base_manager.using(target).bulk_create(chunk)
                copied[table] += len(chunk)
                bar.update(len(chunk))
            if bar.disable and counts[table]:
                print(f"  {table}: {copied[table]} rows", file=out, flush=True)
    return copied


def _models(apps: Apps) -> list[type[models.Model]]:
    return [model for model in apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy]


def _keep_timestamps(model: type[models.Model]) -> None:
    """Copy auto_now / auto_now_add columns as they are (these are the historical
    model's own field objects, made for this import)."""
    for field in model._meta.concrete_fields:
        if isinstance(field, models.DateField):
            field.auto_now = field.auto_now_add = False


def _chunks(rows: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _reset_sequences(alias: str) -> None:
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    apps = executor.loader.project_state(executor.loader.graph.leaf_nodes()).apps
    statements = connection.ops.sequence_reset_sql(no_style(), _models(apps))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _register(alias: str, settings_dict: dict[str, Any]) -> None:
    """Add a database alias at run time, with Django's defaults filled in."""
    filled = ConnectionHandler({"default": dict(settings_dict)}).settings["default"]
    connections.settings[alias] = filled
    connections[alias].close()


def _recreate(name: str) -> None:
    with _maintenance() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def _maintenance() -> Iterator[Any]:
    """A cursor on the server's ``postgres`` database (outside any transaction)."""
    import psycopg

    params = connections["default"].get_connection_params()
    wanted = {key: params[key] for key in ("host", "port", "user", "password") if params.get(key)}
    with psycopg.connect(**wanted, dbname="postgres", autocommit=True) as conn:
        yield conn.cursor()
