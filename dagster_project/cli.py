"""The `analytics` command: local services, the simulator, the demo, the UI."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import date

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


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
    import redis

    from dagster_project.local.environment import EMBEDDED_REDIS_FLAG, apply_env
    from dagster_project.settings import gift_counter_prefix, gift_key_prefix
    from dagster_project.simulate.gifts import clear_gifts, simulate_gifts

    apply_env(dagster_home=False)
    if not os.environ.get(EMBEDDED_REDIS_FLAG) and not args.allow_external_redis:
        print(
            f"refusing to write simulated gifts into REDIS_URL={os.environ['REDIS_URL']}: it is "
            "not the embedded Redis and may hold real gifts. Unset REDIS_URL, or pass "
            "--allow-external-redis if this Redis is a scratch one.",
            file=sys.stderr,
        )
        return 2
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix = gift_key_prefix()
    if args.reset:
        removed = clear_gifts(client, prefix=prefix, counter_prefix=gift_counter_prefix())
        print(f"  removed {removed:,} earlier gift keys from Redis")
    tty = sys.stdout.isatty()
    shown: set[int] = set()

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\r  gifts written to Redis: {done:,}/{total:,}", end="", flush=True)
        elif (quarter := 4 * done // total) not in shown:  # logs get a line per 25%
            shown.add(quarter)
            print(f"  gifts written to Redis: {done:,}/{total:,}", flush=True)

    summary = simulate_gifts(
        client,
        days=args.days,
        gifts=args.gifts,
        seed=args.seed,
        end=args.end,
        prefix=prefix,
        counter_prefix=gift_counter_prefix(),
        progress=progress,
    )
    print(
        f"{chr(10) if tty else ''}  simulated {summary.gifts:,} gifts over {summary.days} days "
        f"({summary.start} … {summary.end}), {summary.campaigns} campaigns, "
        f"{summary.malformed} with a malformed value"
    )
    return 0


def _cmd_demo(args) -> int:
    from dagster_project.demo import run_demo

    return run_demo(gifts=args.gifts, days=args.days, seed=args.seed)


def _cmd_ui(args) -> int:
    from dagster_project.local.environment import apply_env
    from dagster_project.project import ensure_manifest
    from dagster_project.settings import REPO_ROOT

    apply_env()
    ensure_manifest()
    print(f"Dagster UI: http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    os.chdir(REPO_ROOT)
    os.execv(
        dagster, [dagster, "dev", "-w", "workspace.yaml", "-h", args.host, "-p", str(args.port)]
    )


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

    sim = sub.add_parser("simulate", help="write simulated CryptoGift gifts into Redis")
    sim.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    sim.add_argument("--gifts", type=int, default=None, help="total gifts (default ~1,700/day)")
    sim.add_argument(
        "--seed",
        type=int,
        default=42,
        help="random seed (same seed and --end in the past: same data)",
    )
    sim.add_argument(
        "--end",
        type=date.fromisoformat,
        default=None,
        help="last simulated UTC day, YYYY-MM-DD (default today)",
    )
    sim.add_argument(
        "--reset", action="store_true", help="remove every key under the gift prefixes first"
    )
    sim.add_argument(
        "--allow-external-redis",
        action="store_true",
        help="write into a REDIS_URL that is not the embedded Redis (a scratch Redis only)",
    )
    sim.set_defaults(func=_cmd_simulate)

    demo = sub.add_parser("demo", help="simulate, run the whole pipeline, print what it built")
    demo.add_argument("--days", type=int, default=30)
    demo.add_argument("--gifts", type=int, default=50_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=_cmd_demo)

    ui = sub.add_parser("ui", help="start the Dagster UI (dagster dev) on workspace.yaml")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
