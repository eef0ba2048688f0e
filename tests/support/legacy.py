"""The SQLite-era data folder (tests/fixtures/legacy_b445edb, made by commit b445edb)
and a row-for-row comparison of its SQLite file with the PostgreSQL database it was
imported into, independent of the importer: each side's raw values are read with its
own driver and brought to one form by the PostgreSQL column's type."""

from __future__ import annotations

import datetime
import json
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

FIXTURE = Path(__file__).parents[1] / "fixtures" / "legacy_b445edb"
FILES = ("camio.sqlite3", "secret_key", "field_encryption_key", "demo-credentials.json")
# Django adds rows to these for models newer than the SQLite file (post_migrate).
GROWS = {"django_content_type", "auth_permission"}


def old_data_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in FILES:
        shutil.copy(FIXTURE / name, folder / name)
    return folder


def known_secrets() -> dict[str, dict]:
    return json.loads((FIXTURE / "secrets.json").read_text())


def fixture_fernet() -> Fernet:
    return Fernet((FIXTURE / "field_encryption_key").read_text().strip())


def differences(sqlite_path: Path, conn: Any, fernet: Fernet) -> dict[str, str]:
    """Per table, what differs between the SQLite file and PostgreSQL (empty: nothing)."""
    found = {}
    old = sqlite3.connect(sqlite_path)
    try:
        tables = [name for (name,) in old.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name != 'django_migrations'")]
        for table in tables:
            problem = _table_difference(old, conn, table, fernet)
            if problem:
                found[table] = problem
    finally:
        old.close()
    return found


def _table_difference(old: sqlite3.Connection, conn: Any, table: str, fernet: Fernet) -> str:
    types = dict(conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
        [table]).fetchall())
    if not types:
        return "missing in PostgreSQL"
    columns = [row[1] for row in old.execute(f'PRAGMA table_info("{table}")') if row[1] in types]
    listed = ", ".join(f'"{c}"' for c in columns)
    before = {_row(row, columns, types, fernet)
              for row in old.execute(f'SELECT {listed} FROM "{table}"')}
    after = {_row(row, columns, types, fernet)
             for row in conn.execute(f'SELECT {listed} FROM "{table}"').fetchall()}
    lost = before - after
    if lost:
        return f"{len(lost)} of {len(before)} rows not found, e.g. {sorted(map(repr, lost))[0]}"
    if table not in GROWS and len(after) != len(before):
        return f"{len(after)} rows, {len(before)} before"
    return ""


def _row(row: tuple, columns: list[str], types: dict[str, str], fernet: Fernet) -> tuple:
    return tuple(_value(value, types[column], fernet)
                 for column, value in zip(columns, row, strict=True))


def _value(value: Any, kind: str, fernet: Fernet) -> Any:
    if value is None:
        return None
    if kind.startswith("timestamp"):
        moment = (value if isinstance(value, datetime.datetime)
                  else datetime.datetime.fromisoformat(value))
        return moment.replace(tzinfo=moment.tzinfo or datetime.UTC).astimezone(datetime.UTC)
    if kind == "date":
        return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)
    if kind == "interval":
        return (value if isinstance(value, datetime.timedelta)
                else datetime.timedelta(microseconds=value))
    converters: dict[str, Callable[[Any], Any]] = {
        "boolean": bool, "uuid": lambda v: uuid.UUID(str(v)), "bytea": bytes, "inet": str,
        "numeric": lambda v: Decimal(str(v)), "double precision": float,
        "jsonb": lambda v: json.dumps(json.loads(v) if isinstance(v, str) else v, sort_keys=True),
    }
    if kind in converters:
        return converters[kind](value)
    if isinstance(value, str) and value.startswith("gAAAA"):  # an encrypted field
        try:
            return "decrypted:" + fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            return value
    return value
