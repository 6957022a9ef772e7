"""Turn a corpus into a steady stream of inbound events for the demo brand.

The demo corpus, a JSON Lines file of events, or a CSV of texts (a ``text`` column, or
the first column) can be replayed. Some items are follow-ups from a fan who wrote
before, answering in their own thread, so conversations grow as well as multiply.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from canyu.demo.corpus import FOLLOW_UPS, KIND_BY_CATEGORY, NAMES, stream

CHANNEL_FOR_KIND = {
    "mention": ("weibo-official", "weibo-founder"),
    "comment": ("weibo-official", "weibo-founder"),
    "direct": ("wechat-oa",),
    "email": ("support-mail",),
    "webhook": ("partner-webhook",),
}


def _texts_from_file(path: Path) -> Iterator[tuple[str | None, Any]]:
    """(category or None, text or event dict) from a CSV or JSON Lines file, looping."""
    while True:
        produced = False
        if path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, [])
                column = header.index("text") if "text" in header else 0
                for row in reader:
                    if len(row) > column and row[column].strip():
                        produced = True
                        yield None, row[column].strip()
        else:
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(value, dict):
                        produced = True
                        yield None, value
        if not produced:
            raise ValueError(f"{path} holds no usable items")


class DemoStream:
    """Endless events; ``next_event()`` gives one, stamped now."""

    def __init__(
        self, corpus: Path | None = None, seed: int = 7, follow_up_rate: float = 0.25
    ) -> None:
        self.rng = random.Random(seed)
        self.follow_up_rate = follow_up_rate
        self.fans = [
            (f"demo-fan-{i}", name, self.rng.choice([12, 85, 340, 1200, 5600, 98000]))
            for i, name in enumerate(NAMES)
        ]
        self.earlier: list[dict[str, Any]] = []
        if corpus is None:
            self.source: Iterator[tuple[str | None, Any]] = (
                (item.category, item.text) for item in stream(seed)
            )
        else:
            self.source = _texts_from_file(corpus)
        self.counter = itertools.count(1)

    def _author(self) -> tuple[str, str, int]:
        # A few fans write a lot (Zipf-like), most write once in a while.
        index = min(int(self.rng.paretovariate(1.2)) - 1, len(self.fans) - 1)
        return self.fans[index]

    def next_event(self) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC).isoformat()
        if self.earlier and self.rng.random() < self.follow_up_rate:
            parent = self.rng.choice(self.earlier[-30:])
            event = {
                **{k: parent[k] for k in ("channel", "kind", "author")},
                "id": f"demo-{uuid.uuid4().hex[:16]}",
                "text": self.rng.choice(FOLLOW_UPS),
                "created_at": now,
            }
            if parent["kind"] == "email":
                event["thread"] = parent.get("thread")
            elif parent["kind"] != "direct":
                event["parent_id"] = parent["id"]
            return event
        category, value = next(self.source)
        if isinstance(value, dict):
            event = dict(value)
            event["created_at"] = now
            event.setdefault("kind", "mention")
            if event.get("channel") not in sum(CHANNEL_FOR_KIND.values(), ()):
                event["channel"] = self.rng.choice(
                    CHANNEL_FOR_KIND.get(event["kind"], ("weibo-official",))
                )
            event.setdefault("id", f"demo-{uuid.uuid4().hex[:16]}")
            event["id"] = f"{event['id']}-{next(self.counter)}"  # a looped file stays new
            event.pop("parent_id", None)
        else:
            kinds = KIND_BY_CATEGORY.get(category or "", ("mention", "comment", "direct", "email"))
            kind = self.rng.choice(kinds)
            fan_id, name, followers = self._author()
            author = {"id": fan_id, "name": name, "followers": followers}
            if kind == "direct":
                author = {"id": f"o{fan_id}", "name": name}
            elif kind == "email":
                author = {"id": f"{fan_id}@mail.example", "name": name}
            event = {
                "channel": self.rng.choice(CHANNEL_FOR_KIND[kind]),
                "id": f"demo-{uuid.uuid4().hex[:16]}",
                "kind": kind,
                "author": author,
                "text": value,
                "created_at": now,
            }
            if kind == "email":
                event["thread"] = f"mail-{uuid.uuid4().hex[:12]}"
        self.earlier.append(event)
        self.earlier = self.earlier[-200:]
        return event
