"""Strict readers for settings that come from the environment.

Every setting Canyu reads is listed in ``docs/settings.md``. A value that cannot be
parsed stops start-up with a message naming the variable and what was expected: a
typo in production must never silently fall back to a default.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


class SettingError(Exception):
    """A setting from the environment has a value Canyu cannot use."""


def _raw(name: str) -> str | None:
    """The variable's value, or the content of the file named by ``NAME_FILE``."""
    value = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if value is not None and file_name:
        raise SettingError(f"{name} and {name}_FILE are both set; set only one of them")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingError(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return value


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingError(f"{name}={value!r} is not a boolean; use true/false, yes/no, on/off or 1/0")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise SettingError(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise SettingError(f"{name}={number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise SettingError(f"{name}={number} is above the maximum {maximum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None or value.strip() == "":
        return list(default)
    return [part.strip() for part in value.split(",") if part.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise SettingError(f"{name}={value!r} must be one of {', '.join(sorted(choices))}")
    return value


def read_or_create_key(path: Path) -> str:
    """The secret kept in ``path``, made (random, owner-only) the first time it is asked for.

    Two processes starting at once agree: the file is created exclusively, and the one that
    loses the race reads what the winner wrote.
    """
    try:
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    candidate = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the winner may not have written it yet
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.01)
        raise OSError(f"{path} exists but is empty") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(candidate + "\n")
    return candidate
