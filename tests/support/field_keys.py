"""Two field-encryption keys and the rotate_field_keys command
(tests/test_rotate_field_keys.py)."""

from __future__ import annotations

import io

from cryptography.fernet import Fernet
from django.core.management import call_command

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
HEADERS = {"Authorization": "token XYZPDQ"}


def rotate(err: io.StringIO | None = None, **options) -> tuple[str, str]:
    out, err = io.StringIO(), err or io.StringIO()
    call_command("rotate_field_keys", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()
