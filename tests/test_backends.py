"""The suite runs on the backends it claims: the servers DATABASE_URL and
CELERY_BROKER_URL name, else the embedded PostgreSQL and the filesystem broker."""

import pytest
from django.conf import settings
from django.db import connection

from camio_portal.celery import app
from camio_portal.env import env


@pytest.mark.django_db
def test_database_is_the_embedded_postgresql_unless_database_url_is_set():
    with connection.cursor() as cursor:
        cursor.execute("SHOW listen_addresses")
        (listening,) = cursor.fetchone()
        cursor.execute("SELECT current_setting('server_version_num')::int")
        (version,) = cursor.fetchone()
    assert version >= 150000
    if env.str("DATABASE_URL", default=""):
        assert settings.EMBEDDED_POSTGRES is None
    else:  # the test data folder's own server, on a unix socket only
        assert connection.settings_dict["HOST"] == str(settings.EMBEDDED_POSTGRES / "run")
        assert listening == "" and version // 10000 == 18


def test_a_sqlite_database_url_is_refused_with_what_to_do():
    from django.core.exceptions import ImproperlyConfigured

    from camio_portal.settings.base import database_from_url

    with pytest.raises(ImproperlyConfigured, match="PostgreSQL 15 or newer only"):
        database_from_url("sqlite:////tmp/camio.sqlite3")
    socket = database_from_url("postgres://postgres@%2Fsrv%2Fcamio%2Frun/camio")
    assert (socket["HOST"], socket["NAME"]) == ("/srv/camio/run", "camio")


def test_broker_is_redis_when_broker_url_is_set():
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        transport = conn.transport.driver_type
    if env.str("CELERY_BROKER_URL", default=""):
        assert transport == "redis"
    else:
        assert transport == "filesystem"
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        assert type(conn.transport).__module__ == "camio_portal.broker"


def test_no_eager_mode():
    assert not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
    assert not app.conf.task_always_eager
