"""The PostgreSQL session settings the app sets on its connections (rapport/settings.py):
no JIT, and a work_mem that lets the planner hash a user's visible ids."""

import subprocess
import sys

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL session settings")
def test_the_connection_has_no_jit_and_16mb_of_work_mem():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == "16MB"


def test_a_work_mem_that_is_not_a_size_is_refused_at_start():
    env = {
        "DJANGO_SETTINGS_MODULE": "rapport.settings",
        "RAPPORT_DEV": "1",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "PG_WORK_MEM": "16MB -c statement_timeout=1",
        "PATH": "/usr/bin:/bin",
    }
    found = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode != 0
    assert "PG_WORK_MEM='16MB -c statement_timeout=1': a size such as 16MB" in found.stderr
