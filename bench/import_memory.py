"""Peak memory and time of ``canyu import FILE --org SLUG`` on a large JSON Lines file.

Run from the repository root (see bench/README.md)::

    .venv/bin/python bench/import_memory.py                 # 2,000,000 events, SQLite
    .venv/bin/python bench/import_memory.py --gzip --database-url postgres://postgres@127.0.0.1:5432/postgres

It creates a fresh database (SQLite in a temp dir, or its own PostgreSQL database which it
drops afterwards), the organisation and its channels through the ORM, writes the events
(one normalised event a line, with the usual 5 % duplicates and 1 % malformed lines), then
runs the import as a child process and reports the child's peak resident memory (its
``ru_maxrss``, taken through a small launcher process, and by polling ``/proc``) and the
elapsed time. Goal: < 300 MB,
whatever the file's size: an import must stream, not load the file.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import EventStream, create_brand, prepare_database, setup_django

GOAL_MB = 300


def log(message: str) -> None:
    print(message, flush=True)


def write_events(path: Path, count: int, seed: int, compress: bool) -> dict[str, Any]:
    stream = EventStream(seed, count)
    t0 = time.perf_counter()
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8") as out:  # type: ignore[operator]
        for number, event in enumerate(itertools.islice(stream, count), start=1):
            out.write(json.dumps(event, ensure_ascii=False))
            out.write("\n")
            if number % 500_000 == 0:
                log(f"  wrote {number:,} lines ({time.perf_counter() - t0:.0f} s)")
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "bytes": path.stat().st_size,
        "kinds": dict(sorted(stream.stats.items())),
    }


# A small launcher between us and the measured command. Linux carries a process's peak RSS
# across fork and exec (``ru_maxrss`` of a child started straight from this big process
# starts at *our* size), so the command is forked from a fresh, small interpreter that
# reports its children's peak: the command's own.
_LAUNCHER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(f"{peak.ru_maxrss} {peak.ru_utime} {peak.ru_stime}")
sys.exit(code)
"""


def _read_rss_kib(pid: int) -> int:
    """The current resident set of the descendants of ``pid``, in KiB (0 once gone)."""
    total = 0
    pending = [int(c) for c in _children(pid)]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii", errors="replace") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        pending.extend(int(c) for c in _children(current))
    return total


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []


def run_measured(
    command: list[str], env: dict[str, str], timeout: float, logs: Path
) -> dict[str, Any]:
    """Run ``command``; its exit code, elapsed time, peak RSS (rusage and /proc polling)."""
    logs.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = logs / "stdout.txt", logs / "stderr.txt"
    usage_path = logs / "rusage.txt"
    peak = {"kib": 0, "samples": 0}
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        t0 = time.perf_counter()
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, str(usage_path), *command],
                env=env,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group: a timeout ends all of it
            )
        except FileNotFoundError as exc:
            return {"command": command, "error": str(exc)}
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                peak["kib"] = max(peak["kib"], _read_rss_kib(child.pid))
                peak["samples"] += 1
                done.wait(0.05)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        timed_out = False

        def stop() -> None:
            nonlocal timed_out
            timed_out = True
            os.killpg(child.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            child.wait()
        finally:
            timer.cancel()
            done.set()
            watcher.join()
        elapsed = time.perf_counter() - t0
    try:
        maxrss_kib, user, system = (float(x) for x in usage_path.read_text().split())
    except (FileNotFoundError, ValueError):  # killed before it could report
        maxrss_kib, user, system = float("nan"), float("nan"), float("nan")
    stderr_text = stderr_path.read_text(errors="replace")
    if child.returncode != 0 and "No such file or directory" in stderr_text[-500:]:
        return {"command": command, "error": stderr_text[-500:]}
    return {
        "command": command,
        "exit_code": child.returncode,
        "timed_out": timed_out,
        "seconds": round(elapsed, 2),
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mb_rusage": round(maxrss_kib / 1024, 1),
        "peak_rss_mb_polled": round(peak["kib"] / 1024, 1),
        "polls": peak["samples"],
        "user_seconds": round(user, 2),
        "system_seconds": round(system, 2),
        "stdout_tail": stdout_path.read_text(errors="replace")[-2000:],
        "stderr_tail": stderr_text[-2000:],
    }


def canyu_command() -> list[str]:
    script = Path(sys.executable).with_name("canyu")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "canyu.cli"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2_000_000, help="lines to write (2,000,000)")
    parser.add_argument("--gzip", action="store_true", help="write FILE.jsonl.gz instead")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--org", default="bench-import", help="slug of the organisation")
    parser.add_argument("--database-url", default="", help="postgres://…/postgres (default SQLite)")
    parser.add_argument("--db-name", default="canyu_bench_import")
    parser.add_argument("--keep-db", action="store_true", help="keep the database and the file")
    parser.add_argument(
        "--timeout", type=float, default=7200, help="seconds before the child is killed"
    )
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = prepare_database(args.database_url or None, args.db_name, keep=args.keep_db)
    data_dir = Path(os.environ["CANYU_DATA_DIR"])
    results: dict[str, Any] = {
        "database": database.vendor,
        "events": args.events,
        "gzip": args.gzip,
        "goal_mb": GOAL_MB,
        "python": platform.python_version(),
    }
    try:
        setup_django()
        from django.db import connections

        from canyu.inbox.models import IntakeItem, Message

        org, _channels, _agents = create_brand(args.org, "青禾科技（导入）")
        log(f"database: {database.description}; organisation {org.slug!r} with its channels")

        path = data_dir / ("events.jsonl.gz" if args.gzip else "events.jsonl")
        log(f"writing {args.events:,} events to {path}")
        results["file"] = write_events(path, args.events, args.seed, args.gzip)
        log(f"  {results['file']['bytes'] / 1e6:,.1f} MB in {results['file']['seconds']} s")
        connections.close_all()  # the child must not wait for our connection or lock

        env = dict(os.environ)
        base = canyu_command()
        baseline = run_measured([*base, "check"], env, 300, data_dir / "logs-check")
        results["baseline_check"] = baseline
        log(
            f"baseline `canyu check`: peak RSS {baseline.get('peak_rss_mb_rusage')} MB,"
            f" {baseline.get('seconds')} s"
        )

        command = [*base, "import", str(path), "--org", args.org]
        log(f"running: {' '.join(command)}")
        run = run_measured(command, env, args.timeout, data_dir / "logs-import")
        results["import"] = run
        if "error" in run:
            log(f"could not start the command: {run['error']}")
        else:
            stored = Message.objects.filter(organization=org).count()
            pending = IntakeItem.objects.filter(organization=org, status="pending").count()
            intake = IntakeItem.objects.filter(organization=org).count()
            run["stored_messages"] = stored
            run["intake_rows"] = intake
            run["intake_pending"] = pending
            run["events_per_second"] = round(args.events / run["seconds"], 1)
            verdict = "ok" if run["peak_rss_mb_rusage"] < GOAL_MB else "ABOVE GOAL"
            log(f"exit code {run['exit_code']}{' (timed out, killed)' if run['timed_out'] else ''}")
            log(
                f"elapsed {run['seconds']} s ({run['events_per_second']:,.0f} lines/s),"
                f" cpu user {run['user_seconds']} s + system {run['system_seconds']} s"
            )
            log(
                f"peak RSS {run['peak_rss_mb_rusage']} MB (rusage), {run['peak_rss_mb_polled']} MB"
                f" (polled /proc) — goal < {GOAL_MB} MB: {verdict}"
            )
            log(f"stored {stored:,} messages; intake rows {intake:,}, still pending {pending:,}")
            if run["exit_code"] != 0:
                log("stderr (tail):\n" + run["stderr_tail"])
            elif run["stdout_tail"].strip():
                log("stdout (tail):\n" + run["stdout_tail"][-800:])
    finally:
        database.cleanup()
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        log(f"results written to {args.json}")
    return 0 if results.get("import", {}).get("exit_code") == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
