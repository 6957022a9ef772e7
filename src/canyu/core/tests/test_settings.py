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
        ({"CANYU_TIME_ZONE": "Mars/Olympus"}, "CANYU_TIME_ZONE='Mars/Olympus' is not a time zone"),
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


def test_without_a_secret_key_one_is_made_once_and_kept_owner_only(tmp_path):
    """No guessable fallback: the key (and the credentials key derived from it) is random,
    stable across restarts of one install, and different for another install."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='canyu.settings'; django.setup();"
        "from django.conf import settings; print(settings.SECRET_KEY)"
    )

    def key_of(data_dir) -> str:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        env.update(CANYU_DATA_DIR=str(data_dir), CANYU_SECRET_KEY="")
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    first = key_of(tmp_path / "a")
    assert len(first) >= 40 and str(tmp_path) not in first
    assert key_of(tmp_path / "a") == first  # kept
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o077 == 0  # owner only
    assert key_of(tmp_path / "b") != first  # not derived from anything guessable


def test_two_processes_making_the_key_at_once_agree(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from canyu.lib.env import read_or_create_key

    path = tmp_path / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: read_or_create_key(path), range(32)))
    assert len(keys) == 1 and path.read_text().strip() in keys
