"""A request racing a delete (P21, 4): another connection deletes the row and holds its
lock; the request runs in a thread until it waits on that lock; then the delete commits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from django.db import connection, connections
from psycopg import sql


def racing_a_delete(table: str, pk: int, request: Callable[[], Any],
                    dependents: tuple[tuple[str, str], ...] = ()) -> Any:
    """Return ``request()``'s answer, sent while row ``pk`` of ``table`` was being deleted
    (with the rows of ``dependents``, (table, column), that refer to it)."""
    params = connection.get_connection_params()
    wanted = {k: params[k] for k in ("host", "port", "user", "password", "dbname") if params.get(k)}
    other = psycopg.connect(**wanted)
    try:
        for dependent, column in dependents:
            other.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                sql.Identifier(dependent), sql.Identifier(column)), [pk])
        other.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier(table)), [pk])
        answer: dict[str, Any] = {}

        def send() -> None:
            try:
                answer["value"] = request()
            finally:
                connections.close_all()

        thread = threading.Thread(target=send)
        thread.start()
        deadline = time.monotonic() + 30
        while not _someone_waits(other) and thread.is_alive():
            assert time.monotonic() < deadline, "the request never waited on the row lock"
            time.sleep(0.02)
        assert thread.is_alive(), f"the request did not wait for the lock: {answer}"
        other.commit()
        thread.join(30)
    finally:
        other.close()
    return answer["value"]


def _someone_waits(other: psycopg.Connection) -> bool:
    other.execute("SELECT pg_stat_clear_snapshot()")  # else one snapshot per transaction
    row = other.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()").fetchone()
    return bool(row and row[0])


def admin_form(client: Any, url: str) -> dict[str, Any]:
    """The admin change form's fields (inlines' management forms included) as shown."""
    page = client.get(url)
    data: dict[str, Any] = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for field in form:
            value = field.value()
            if value is not None:
                data[field.html_name] = value
    return data
