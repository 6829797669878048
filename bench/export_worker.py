"""One export in a fresh process, so its peak memory (ru_maxrss) is the export's alone:
`python -m bench.export_worker URL DATASET FORMAT FROM TO [--naive]` prints one JSON line.

`--naive` is the baseline: seed 002's generate_export_file, which fetches every row into
a list and then writes the file (csv.writer / json.dumps of the whole list)."""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from dagster_project.exports.service import create_request, plan, run_export


def _peak_kb() -> int:
    """This process's peak RSS in KiB: VmHWM, the high-water mark of its own address space.
    Not ru_maxrss: Linux carries that over exec from the process that started this one
    (`make bench` is over 1 GB by the export step), so it would report the parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _naive(conn, dataset: str, type_: str, filters: dict, directory: Path) -> tuple[int, Path]:
    p = plan(dataset, filters)
    cur = conn.execute(p.select(as_text=type_ == "csv"), p.params)
    names = [c.name for c in cur.description]
    rows = cur.fetchall()  # the seed's way: every row in memory first
    path = directory / f"naive.{type_}"
    with open(path, "w", newline="", encoding="utf-8") as out:
        if type_ == "csv":
            writer = csv.writer(out)
            writer.writerow(names)
            writer.writerows(rows)
        else:
            out.write(json.dumps([dict(zip(names, r, strict=True)) for r in rows], default=str))
    conn.rollback()
    return len(rows), path


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    for name in ("url", "dataset", "format", "start", "end"):
        p.add_argument(name)
    p.add_argument("--naive", action="store_true")
    args = p.parse_args(argv)
    filters = {"from": args.start, "to": args.end}
    with psycopg.connect(args.url) as conn, tempfile.TemporaryDirectory() as tmp:
        conn.execute("select 1")  # connected and imported: the process's resting size
        conn.rollback()
        before_kb = _peak_kb()
        started = time.perf_counter()
        if args.naive:
            rows, path = _naive(conn, args.dataset, args.format, filters, Path(tmp))
        else:
            request = create_request(conn, args.dataset, args.format, filters, "bench")
            done = run_export(conn, request["id"], directory=Path(tmp))
            if done["status"] != "ready":
                print(json.dumps({"error": f"{done['error_code']}: {done['error_message']}"}))
                return 1
            rows, path = done["actual_rows"], Path(done["file_path"])
        seconds = time.perf_counter() - started
        size = path.stat().st_size
    print(json.dumps({"seconds": seconds, "rows": rows, "bytes": size,
                      "rest_kb": before_kb, "peak_kb": _peak_kb()}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
