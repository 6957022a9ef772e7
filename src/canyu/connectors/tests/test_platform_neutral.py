"""The core never names a platform: each platform's facts live in its own folder.

Adding a platform is a folder ``connectors/<platform>/`` and one line in
``connectors/registry.py``; the registry collects what the rest of Canyu needs from the
platform's ``config.py``. These tests hold both halves: the registry finds the facts of
every registered platform, and no module of the core apps names one.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from canyu.connectors import registry
from canyu.connectors.models import Platform

SRC = Path(__file__).resolve().parents[2]  # src/canyu
CORE_APPS = (
    "inbox",
    "core",
    "sla",
    "routing",
    "accounts",
    "feedback",
    "notifications",
    "text",
    "demo",
)
# Modules that name platforms as data, not as behaviour. Keep this list short and say why.
ALLOWED = {
    # The demo seeds one channel on each platform and replays sample events into them:
    # sample data, which must name the platforms it fills.
    "demo/seed.py",
    "demo/replay.py",
    # Default SLA policies an organisation may adopt ("Weibo within 15 minutes"): stored
    # as ordinary, editable policy rows whose platform list is data, like any other.
    "sla/presets.py",
}
PLATFORMS = tuple(registry.CONNECTORS)
# Platform names that are also ordinary words of the core, so a bare string is not a
# platform there: "email" is a message kind (Kind.EMAIL) and a user's address field.
# Their use as a platform is still caught as Platform.EMAIL, in a comparison with a
# platform, and in an import or dotted path of their connector package.
ALSO_WORDS = {"email"}


def _core_modules() -> list[Path]:
    found = []
    for app in CORE_APPS:
        for path in sorted((SRC / app).rglob("*.py")):
            parts = path.relative_to(SRC / app).parts
            if "tests" in parts or "migrations" in parts:
                continue
            found.append(path)
    return found


def _is_platform_name(value: str) -> bool:
    return value.lower() in PLATFORMS and value.lower() not in ALSO_WORDS


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def _names_platform(node: ast.AST) -> bool:
    """Whether an expression is about a platform: ``platform``, ``channel.platform``, …"""
    if isinstance(node, ast.Name):
        return "platform" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "platform" in node.attr.lower()
    return False


def _connector_package(dotted: str) -> bool:
    return any(
        dotted == f"canyu.connectors.{p}" or dotted.startswith(f"canyu.connectors.{p}.")
        for p in PLATFORMS
    )


def _findings(path: Path, root: Path = SRC) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
        # Platform.WEIBO, Platform.EMAIL, … (Platform.choices and .values are neutral).
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Platform"
            and node.attr.isupper()
        ):
            found.append(f"{where}: Platform.{node.attr}")
        # platform == "email", channel.platform in ("weibo", "wechat"), …
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_names_platform(o) for o in operands):
                for value in (s for o in operands for s in _strings(o)):
                    if value.lower() in PLATFORMS:
                        found.append(f"{where}: a platform compared with {value!r}")
        # from canyu.connectors.weibo import …, import canyu.connectors.email.tasks
        elif isinstance(node, ast.ImportFrom) and _connector_package(node.module or ""):
            found.append(f"{where}: imports {node.module}")
        elif isinstance(node, ast.Import):
            found += [
                f"{where}: imports {a.name}" for a in node.names if _connector_package(a.name)
            ]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # "weibo" as a key, an argument, a table entry; "canyu.connectors.email.tasks…"
            if _is_platform_name(node.value.strip()):
                found.append(f"{where}: the string {node.value!r}")
            elif _connector_package(node.value.strip()):
                found.append(f"{where}: the dotted path {node.value!r}")
    return found


def test_the_core_apps_never_name_a_platform():
    modules = _core_modules()
    assert len(modules) > 50  # the walk found the apps
    findings = [
        finding
        for path in modules
        if path.relative_to(SRC).as_posix() not in ALLOWED
        for finding in _findings(path)
    ]
    assert not findings, (
        "a core module names a platform; declare the fact in connectors/<platform>/config.py "
        "and collect it in connectors/registry.py:\n" + "\n".join(findings)
    )


def test_the_rule_catches_what_it_is_meant_to(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from canyu.connectors.weibo.tasks import poll_weibo_task\n"
        "LIMITS = {Platform.WECHAT: 600, 'weibo': 140}\n"
        "JOBS = [('canyu.connectors.email.tasks.poll_mailboxes_task', 15)]\n"
        "def f(channel):\n"
        "    return channel.platform == 'email'\n"
        "KINDS = ('email', 'direct')  # a message kind, not a platform\n"
        "HELP = 'e.g. [\"weibo\"]'  # an example in a message, not a table\n",
        encoding="utf-8",
    )
    findings = _findings(sample, root=tmp_path)
    assert sorted(f.split(": ", 1)[1] for f in findings) == [
        "Platform.WECHAT",
        "a platform compared with 'email'",
        "imports canyu.connectors.weibo.tasks",
        "the dotted path 'canyu.connectors.email.tasks.poll_mailboxes_task'",
        "the string 'weibo'",
    ]


def test_every_registered_platform_is_a_platform_choice():
    assert set(registry.CONNECTORS) <= set(Platform.values)


def test_the_registry_collects_each_platforms_reply_limit_and_counting():
    assert registry.reply_limits() == {
        "webhook": (5000, "chars"),
        "wechat": (600, "chars"),
        "weibo": (140, "weibo"),
    }
    assert set(registry.reply_counting()) == {"weibo"}
    assert registry.reply_counting()["weibo"]("小米 14") == 4  # 2 + ceil(3 / 2)
    for _max_length, counting in registry.reply_limits().values():
        assert counting == "chars" or counting in registry.reply_counting()


@pytest.mark.parametrize(
    ("platform", "external_id", "url"),
    [
        ("weibo", "1749127163", "https://weibo.com/u/1749127163"),
        ("weibo", "demo-fan-3", None),
        ("email", "fan+x@example.com", "mailto:fan+x@example.com"),
        ("email", "not an address", None),
    ],
)
def test_the_registry_collects_profile_links(platform, external_id, url):
    assert set(registry.profile_urls()) == {"weibo", "email"}
    assert registry.profile_urls()[platform](external_id) == url


def test_the_registry_collects_reply_windows():
    assert registry.reply_windows() == {
        ("wechat", "direct"): dt.timedelta(hours=48),
        ("weibo", "direct"): dt.timedelta(hours=72),
    }


def test_the_registry_collects_periodic_tasks_and_the_schedule_runs_them():
    from django.utils.module_loading import import_string

    from canyu.core.schedule import SCHEDULE

    tasks = registry.periodic_tasks()
    assert tasks == (
        ("canyu.connectors.weibo.tasks.poll_weibo_task", 30),
        ("canyu.connectors.email.tasks.poll_mailboxes_task", 15),
    )
    for path, seconds in tasks:
        assert (path, seconds) in SCHEDULE
        assert callable(getattr(import_string(path), "enqueue", None)), path
    assert len({path for path, _ in SCHEDULE}) == len(SCHEDULE)  # nothing listed twice


def test_the_registry_collects_push_views_and_each_has_its_addresses():
    from django.urls import resolve, reverse
    from django.utils.module_loading import import_string

    views = registry.push_views()
    assert set(views) == {"webhook", "wechat", "weibo"}
    for platform, path in views.items():
        view = import_string(path)
        by_key = reverse(f"{platform}-receive", kwargs={"hook_key": "k3y"})
        by_slug = reverse(
            f"{platform}-receive-by-slug", kwargs={"org_slug": "xiaomi", "channel_slug": "c"}
        )
        assert by_key.endswith(f"/{platform}/k3y")
        assert by_slug.endswith(f"/{platform}/xiaomi/c")
        assert resolve(by_key).func is view and resolve(by_slug).func is view


def test_a_platform_without_settings_declares_none():
    from canyu.connectors.channel_settings import keys_for

    assert registry.config_module("webhook") is not None
    keys = keys_for("webhook")
    assert keys.known == [] and not keys.aliases


def test_weibo_takes_token_for_access_token():
    from canyu.connectors.channel_settings import apply_settings
    from canyu.connectors.models import Channel

    channel = Channel(platform="weibo", config={}, credentials={"access_token": "old"})
    apply_settings(channel, {"token": "2.00abc", "app_secret": "s3cret"})
    assert channel.credentials == {"access_token": "2.00abc", "app_secret": "s3cret"}
