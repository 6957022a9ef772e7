"""The ``canyu`` console command: Django's management commands under Canyu's settings."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canyu.settings")
    from django.core.management import execute_from_command_line

    from canyu.lib.env import env_str

    data_dir = env_str("CANYU_DATA_DIR", os.path.join(os.getcwd(), "var"))
    os.makedirs(data_dir, exist_ok=True)
    execute_from_command_line(["canyu", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
