"""The suite runs on the backends it claims: PostgreSQL + Redis when asked."""

import pytest
from django.conf import settings
from django.db import connection

from camio_portal.celery import app
from camio_portal.env import env


@pytest.mark.django_db
def test_database_is_postgresql_when_database_url_is_set():
    if env.str("DATABASE_URL", default=""):
        assert connection.vendor == "postgresql"
    else:
        assert connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


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
