"""The `analytics` command: local services, the simulator, the demo, the UI."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import date

from dagster_project.settings import redact
from dagster_project.simulate.run import SYSTEMS

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
# Dagster's own @sensor passes its beta `owners` parameter on, set or not: not ours to fix
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition")


def _cmd_up(_args) -> int:
    from dagster_project.local import services

    ports = services.up()
    print(f"PostgreSQL  {ports.postgres_url()}   (databases: {', '.join(services.DATABASES)})")
    print(f"Redis       {ports.redis_url()}")
    return 0


def _cmd_status(_args) -> int:
    from dagster_project.local import services

    for key, value in services.status().items():
        shown = {True: "running", False: "stopped"}.get(value, value)
        print(f"{key:<14} {shown}")
    for var in ("WAREHOUSE_URL", "REDIS_URL"):
        if os.environ.get(var):
            print(f"{var} is set: the embedded service is not used for it")
    return 0


def _cmd_down(_args) -> int:
    from dagster_project.local import services

    services.down()
    print("embedded PostgreSQL and Redis stopped (data kept under ANALYTICS_HOME)")
    return 0


def _cmd_env(_args) -> int:
    """Print `export` lines so dbt (or psql) can be run by hand against the same warehouse."""
    import shlex

    from dagster_project.local.environment import apply_env

    apply_env()
    names = ["WAREHOUSE_URL", "REDIS_URL", "DAGSTER_HOME", "DAGSTER_POSTGRES_URL"]
    names += sorted(k for k in os.environ if k.startswith(("WAREHOUSE_", "SOURCE_")))
    for name in dict.fromkeys(names):
        print(f"export {name}={shlex.quote(os.environ[name])}")
    return 0


def _cmd_simulate(args) -> int:
    from dagster_project.simulate.run import ExternalTarget, UnsupportedTarget, simulate

    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        print(f"unknown system(s) {', '.join(unknown)}: choose from {', '.join(SYSTEMS)}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        simulate(
            systems, days=args.days, gifts=args.gifts,
            events_per_day=args.events_per_day, seed=args.seed, end=args.end,
            reset=args.reset, allow_external=args.allow_external,
        )  # fmt: skip
    except (ExternalTarget, UnsupportedTarget) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _cmd_demo(args) -> int:
    from dagster_project.demo import run_demo

    return run_demo(
        gifts=args.gifts, days=args.days, seed=args.seed, events_per_day=args.events_per_day
    )


def _cmd_ui(args) -> int:
    from dagster_project.local.environment import apply_env
    from dagster_project.project import ensure_manifest
    from dagster_project.settings import REPO_ROOT

    apply_env()
    ensure_manifest()
    print(f"Dagster UI: http://{args.host}:{args.port}  (Ctrl-C stops it)")
    print(f"instance:   {os.environ['DAGSTER_HOME']}/dagster.yaml")
    print(f"storage:    {redact(os.environ['DAGSTER_POSTGRES_URL'])}", flush=True)
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    os.chdir(REPO_ROOT)
    os.execv(
        dagster, [dagster, "dev", "-w", "workspace.yaml", "-h", args.host, "-p", str(args.port)]
    )


def _cmd_pools(_args) -> int:
    """The concurrency pools of the project and their limits in the instance."""
    from dagster import DagsterInstance

    from dagster_project.local.environment import apply_env
    from dagster_project.run_policies import all_pools

    apply_env()
    with DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        pools = dict.fromkeys([*all_pools(), *sorted(storage.get_concurrency_keys())])
        print(f"{'pool':<26} {'limit':>5} {'in use':>6} {'waiting':>7}")
        for pool in pools:
            info = storage.get_concurrency_info(pool)
            limit = "none" if info.limit is None else str(info.limit)
            default = " (default)" if info.using_default_limit else ""
            print(
                f"{pool:<26} {limit:>5} {len(info.claimed_slots):>6} "
                f"{len(info.pending_steps):>7}{default}"
            )
    return 0


def _parse_filter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--filter takes NAME=VALUE, got {text!r}")
    return name.strip(), value


def _show_request(row: dict) -> None:
    import json

    for key, value in row.items():
        if value is None:
            continue
        shown = json.dumps(value) if key == "filters" else value
        print(f"{key:<15} {shown}")


def _warehouse():
    from dagster_project.resources import WarehouseResource

    return WarehouseResource().connect()


def _cmd_export_request(args) -> int:
    from dagster_project.exports.service import (
        ExportError,
        create_request,
        get_request,
        run_export,
    )

    filters = dict(args.filter or [])
    for name in ("from", "to"):
        if getattr(args, f"{name}_") is not None:
            filters[name] = getattr(args, f"{name}_")
    with _warehouse() as conn:
        try:
            row = create_request(conn, args.dataset, args.format, filters, args.requested_by)
        except ExportError as exc:
            print(f"{exc.code}: {exc.message}", file=sys.stderr)
            return 2
        if args.wait and row["status"] == "preparing":
            # written here, in this process; a daemon's run of the same request waits on
            # the request's lock and then finds it no longer preparing
            try:
                row = run_export(conn, row["id"])
            except Exception:  # stored on the request (export_error) with its reason
                conn.rollback()
                row = get_request(conn, row["id"])
    if row["status"] == "failed":
        print(f"{row['id']} failed: {row['error_code']}: {row['error_message']}", file=sys.stderr)
        return 1
    print(row["id"])
    if args.wait:
        print(row["file_path"])
    return 0


def _cmd_export_status(args) -> int:
    from dagster_project.exports.service import ExportError, check_id, get_request

    try:
        check_id(args.id)  # before connecting: a bad id needs no warehouse to be refused
    except ExportError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 1
    with _warehouse() as conn:
        row = get_request(conn, args.id)
    if row is None:
        print(f"Export {args.id!r} not found", file=sys.stderr)
        return 1
    _show_request(row)
    return 0


def _cmd_export_list(args) -> int:
    from dagster_project.exports.service import list_requests

    with _warehouse() as conn:
        rows = list_requests(conn, status=args.status, limit=args.limit)
    for row in rows:
        detail = row["file_path"] if row["status"] == "ready" else row["error_message"] or ""
        print(
            f"{row['id']}  {row['created_at']:%Y-%m-%d %H:%M:%S}  {row['status']:<9} "
            f"{row['type']:<4} {row['dataset']:<14} {row['actual_rows'] or '':>7}  {detail}"
        )
    return 0


def _add_export_parser(sub) -> None:
    from dagster_project.exports.datasets import DATASETS

    export = sub.add_parser("export", help="request CSV/JSON exports and see their status")
    esub = export.add_subparsers(dest="export_command", required=True)
    req = esub.add_parser(
        "request",
        help="request an export (the export_request_sensor runs it; --wait runs it here)",
    )
    req.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}")
    req.add_argument("--format", choices=("csv", "json"), default="csv")
    req.add_argument("--from", dest="from_", metavar="YYYY-MM-DD", help="first day (UTC)")
    req.add_argument("--to", dest="to_", metavar="YYYY-MM-DD", help="last day, included")
    req.add_argument("--filter", action="append", type=_parse_filter, metavar="NAME=VALUE",
                     help="a dataset filter, e.g. direction=debit (repeatable)")  # fmt: skip
    req.add_argument("--requested-by", default=None, help="who asks (default: the DB user)")
    req.add_argument("--wait", action="store_true", help="write it now and print the file")
    req.set_defaults(func=_cmd_export_request)
    status = esub.add_parser("status", help="show one export request")
    status.add_argument("id")
    status.set_defaults(func=_cmd_export_status)
    listing = esub.add_parser("list", help="the latest export requests")
    listing.add_argument("--status", choices=("preparing", "ready", "failed", "expired"))
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=_cmd_export_list)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analytics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the embedded PostgreSQL and Redis").set_defaults(func=_cmd_up)
    sub.add_parser("status", help="show the embedded services and their URLs").set_defaults(
        func=_cmd_status
    )
    sub.add_parser("down", help="stop the embedded services").set_defaults(func=_cmd_down)
    sub.add_parser("env", help="print export lines for dbt/psql by hand").set_defaults(
        func=_cmd_env
    )

    sim = sub.add_parser("simulate", help="write simulated app data into the source systems")
    sim.add_argument(
        "--systems", default=",".join(SYSTEMS),
        help="comma-separated, default all: gifts (Redis); yesgoddess, everreach, mashups, "
             "wallet, cryptogift (their app databases; the wallet's may be MySQL/MariaDB)",
    )  # fmt: skip
    sim.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    sim.add_argument("--gifts", type=int, default=None, help="total gifts (default ~1,700/day)")
    sim.add_argument("--events-per-day", type=int, default=20_000, help="events/day per app")
    sim.add_argument("--seed", type=int, default=42, help="random seed")
    sim.add_argument("--end", type=date.fromisoformat, default=None,
                     help="last simulated UTC day, YYYY-MM-DD (default today; a past day and "
                          "the same seed give the same data)")  # fmt: skip
    sim.add_argument("--reset", action="store_true", help="remove earlier simulated data first")
    sim.add_argument(
        "--allow-external", action="store_true",
        help="write into a REDIS_URL / SOURCE_*_URL that is not embedded (scratch ones only)",
    )  # fmt: skip
    sim.set_defaults(func=_cmd_simulate)

    demo = sub.add_parser("demo", help="simulate, run the whole pipeline, print what it built")
    demo.add_argument("--days", type=int, default=30)
    demo.add_argument("--gifts", type=int, default=50_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--events-per-day", type=int, default=20_000, help="events/day per app")
    demo.set_defaults(func=_cmd_demo)

    ui = sub.add_parser("ui", help="start the Dagster UI (dagster dev) on workspace.yaml")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_cmd_ui)
    sub.add_parser(
        "pools", help="the concurrency pools (one sync per source, one dbt build) and limits"
    ).set_defaults(func=_cmd_pools)

    _add_export_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
