import os
import subprocess
import sys

import pytest


def start(**env):
    full = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env}
    if "DATABASE_URL" not in env:
        full.pop("DATABASE_URL", None)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='canyu.settings'; django.setup()",
        ],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CANYU_DEBUG": "maybe"}, "CANYU_DEBUG='maybe' is not a boolean"),
        ({"CANYU_DB_CONN_MAX_AGE": "ten"}, "CANYU_DB_CONN_MAX_AGE='ten' is not a whole number"),
        ({"CANYU_INTAKE_MAX_EVENTS": "0"}, "CANYU_INTAKE_MAX_EVENTS=0 is below the minimum 1"),
        ({"CANYU_LANGUAGE": "fr"}, "CANYU_LANGUAGE='fr' must be one of en, zh-hans"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must start with"),
        (
            {"CANYU_REQUIRE_SECRET_KEY": "true", "CANYU_SECRET_KEY": ""},
            "CANYU_SECRET_KEY must be set",
        ),
    ],
)
def test_a_bad_setting_stops_start_up_with_a_clear_message(env, message):
    result = start(**env)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_setting_can_come_from_a_file(tmp_path):
    secret = tmp_path / "debug"
    secret.write_text("nope\n")
    result = start(CANYU_DEBUG_FILE=str(secret))
    assert result.returncode == 2 and "CANYU_DEBUG='nope'" in result.stderr


def test_good_settings_start(tmp_path):
    result = start(CANYU_DATA_DIR=str(tmp_path), CANYU_DEBUG="yes")
    assert result.returncode == 0, result.stderr


def test_the_embedded_database_is_a_sqlite_file_in_wal_mode(tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='canyu.settings'; django.setup();"
        "from django.db import connection; c = connection.cursor(); c.execute('PRAGMA journal_mode');"
        "print(connection.vendor, c.fetchone()[0], connection.settings_dict['NAME'])"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "CANYU_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["sqlite", "wal", str(tmp_path / "canyu.sqlite3")], (
        result.stderr
    )
