"""P14 (3): a data folder of the SQLite era is imported into the embedded PostgreSQL at
the first start, row for row, and its endpoints' secrets still sign."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest
from standardwebhooks import Webhook

from callbacks.signing import sign
from camio_portal import pgembed
from tests.support.embedded import ROOT, portal_env
from tests.support.legacy import differences, fixture_fernet, known_secrets, old_data_folder

pytestmark = pytest.mark.embedded


def test_an_old_data_folder_is_imported_row_for_row_and_its_secrets_still_sign(tmp_path):
    data = old_data_folder(tmp_path / "data")
    base = data / "postgres"
    pgembed.start(base)
    try:
        prepared = subprocess.run(
            [sys.executable, "-m", "camio_portal.prepare"], cwd=ROOT, env=portal_env(data),
            capture_output=True, text=True, timeout=600,
        )
        assert prepared.returncode == 0, prepared.stderr
        assert "Imported " in prepared.stderr and "camio.sqlite3 is kept" in prepared.stderr
        assert "admin@acme.test" in prepared.stdout  # the demo's sign-ins, as before
        with psycopg.connect(pgembed.dsn(base, "camio")) as conn:
            assert differences(data / "camio.sqlite3", conn, fixture_fernet()) == {}
            keys = conn.execute(
                "SELECT e.endpoint_id, k.secret FROM callbacks_signingkey k "
                "JOIN callbacks_endpoint e ON e.id = k.endpoint_id WHERE k.expires_at IS NULL"
            ).fetchall()
            scratch = conn.execute(
                "SELECT count(*) FROM pg_database WHERE datname = 'camio_import'"
            ).fetchone()
    finally:
        pgembed.stop(base)
    assert scratch == (0,)
    assert (data / "camio.sqlite3").exists()
    current = {endpoint_id: fixture_fernet().decrypt(token).decode()
               for endpoint_id, token in keys}
    body, now = b'{"type": "camera.created"}', int(time.time())
    assert set(current) == set(known_secrets())
    for endpoint_id, known in known_secrets().items():
        signature = sign(current[endpoint_id], "msg_1", now, body)  # the imported key signs
        verified = Webhook(known["secret"]).verify(  # what the receiver has checks it
            body, {"webhook-id": "msg_1", "webhook-timestamp": str(now),
                   "webhook-signature": signature}
        )
        assert verified == {"type": "camera.created"}
