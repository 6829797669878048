"""`analytics simulate`: fill the embedded source systems with simulated app data."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date

import psycopg
import redis
from sqlalchemy.engine import make_url

from dagster_project.local.environment import (
    EMBEDDED_REDIS_FLAG,
    EMBEDDED_WAREHOUSE_FLAG,
    apply_env,
)
from dagster_project.settings import (
    MASHUP_REDIS_URL_ENV,
    gift_counter_prefix,
    gift_key_prefix,
    libpq_url,
    mashup_key_prefix,
    mashup_redis_url,
)
from dagster_project.simulate.wallet_mysql import is_mysql_url, simulate_wallet_mysql

SYSTEMS = ("gifts", "yesgoddess", "everreach", "mashups", "wallet", "cryptogift")

# App-database simulators: module dagster_project.simulate.<system> provides
# create_tables(conn) and simulate_<system>(conn, *, days, events_per_day, seed, end,
# reset, progress) returning a summary whose describe() is one line for the terminal.
APP_SYSTEMS = ("everreach", "mashups", "wallet", "cryptogift")


class ExternalTarget(RuntimeError):
    """The simulator would write fake data into a system that is not the embedded one."""


class UnsupportedTarget(RuntimeError):
    """The URL names a database the system's simulator cannot write (MySQL, not the wallet)."""


def progress_printer(label: str) -> Callable[[int, int], None]:
    """`\\r` updates on a terminal; in a log, one line per quarter."""
    tty = sys.stdout.isatty()
    shown: set[int] = set()

    def show(done: int, total: int) -> None:
        if tty:
            end = "\n" if done >= total else ""
            print(f"\r  {label}: {done:,}/{total:,}", end=end, flush=True)
        elif (quarter := 4 * done // max(1, total)) not in shown:
            shown.add(quarter)
            print(f"  {label}: {done:,}/{total:,}", flush=True)

    return show


def _refuse_external(variable: str, embedded: bool, allow: bool) -> None:
    if not embedded and not allow:
        raise ExternalTarget(
            f"refusing to write simulated data into {variable}: it is not the embedded "
            "service and may hold real data. Unset it, or pass --allow-external if it is a "
            "scratch one."
        )


def _is_embedded_source(url: str) -> bool:
    """The embedded app databases live on the embedded warehouse's server: a
    SOURCE_<SYSTEM>_URL set by the user to another server is someone's database, even when
    the warehouse is embedded."""
    if not os.environ.get(EMBEDDED_WAREHOUSE_FLAG):
        return False
    source, warehouse = make_url(url), make_url(os.environ["WAREHOUSE_URL"])
    return (source.host, source.port) == (warehouse.host, warehouse.port)


def check_targets(systems: list[str], allow_external: bool) -> None:
    """Every target of `systems` may be written, checked before anything is."""
    if "gifts" in systems:
        embedded = bool(os.environ.get(EMBEDDED_REDIS_FLAG))
        _refuse_external(f"REDIS_URL={os.environ['REDIS_URL']}", embedded, allow_external)
    for system in ("yesgoddess", *APP_SYSTEMS):
        if system not in systems:
            continue
        variable = f"SOURCE_{system.upper()}_URL"
        if not os.environ.get(variable):  # WAREHOUSE_URL set: no app database is embedded
            raise UnsupportedTarget(
                f"{variable} is not set: with WAREHOUSE_URL set nothing is embedded, so name "
                f"the {system} app database to write to, or leave {system} out of --systems."
            )
        if is_mysql_url(os.environ[variable]):
            check_mysql_target(system, allow_external)
        else:
            embedded = _is_embedded_source(os.environ[variable])
            _refuse_external(variable, embedded, allow_external)


def simulate_gift_system(*, days, gifts, seed, end, reset) -> None:
    from dagster_project.simulate.gifts import clear_gifts, simulate_gifts

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix, counters = gift_key_prefix(), gift_counter_prefix()
    if reset:
        removed = clear_gifts(client, prefix=prefix, counter_prefix=counters)
        print(f"  removed {removed:,} earlier gift keys from Redis")
    summary = simulate_gifts(
        client, days=days, gifts=gifts, seed=seed, end=end, prefix=prefix,
        counter_prefix=counters, progress=progress_printer("gifts written to Redis"),
    )  # fmt: skip
    print(
        f"  simulated {summary.gifts:,} gifts over {summary.days} days "
        f"({summary.start} … {summary.end}), {summary.campaigns} campaigns, "
        f"{summary.malformed} with a malformed value"
    )


def simulate_yesgoddess_system(*, days, events_per_day, seed, end, reset):
    from dagster_project.simulate.yesgoddess import create_tables, simulate_yesgoddess

    url = os.environ["SOURCE_YESGODDESS_URL"]
    with psycopg.connect(libpq_url(url)) as conn:
        create_tables(conn)
        summary = simulate_yesgoddess(
            conn, days=days, events_per_day=events_per_day, seed=seed, end=end, reset=reset,
            progress=progress_printer("YesGoddess days written"),
        )  # fmt: skip
    print(
        f"  simulated {summary.events:,} YesGoddess events ({summary.duplicates:,} delivered "
        f"twice, {summary.late:,} late, {summary.malformed:,} malformed) and "
        f"{summary.attribution:,} attribution rows"
    )


def _mashup_counter_options(allow_external: bool) -> dict:
    """The Mashups simulator also INCRs the realtime counters, in the embedded Redis (or
    MASHUP_REDIS_URL / REDIS_URL with --allow-external); elsewhere it leaves them alone."""
    url = mashup_redis_url()
    embedded = url is None and bool(os.environ.get(EMBEDDED_REDIS_FLAG))
    if not (embedded or allow_external):
        target = url or os.environ.get("REDIS_URL")
        print(f"  not writing Mashups counters into {MASHUP_REDIS_URL_ENV} or {target}: not "
              "the embedded Redis (pass --allow-external if it is a scratch one)")  # fmt: skip
        return {}
    client = redis.Redis.from_url(url or os.environ["REDIS_URL"])
    return {"redis_client": client, "counter_prefix": mashup_key_prefix()}


def simulate_app_system(system, *, days, events_per_day, seed, end, reset, extra=None):
    from importlib import import_module

    variable = f"SOURCE_{system.upper()}_URL"
    url = os.environ[variable]
    progress = progress_printer(f"{system} days written")
    options = {"days": days, "events_per_day": events_per_day, "seed": seed, "end": end}
    if is_mysql_url(url):
        summary = simulate_wallet_mysql(url, reset=reset, progress=progress, **options)
    else:
        module = import_module(f"dagster_project.simulate.{system}")
        with psycopg.connect(libpq_url(url)) as conn:
            module.create_tables(conn)
            summary = getattr(module, f"simulate_{system}")(
                conn, reset=reset, progress=progress, **options, **(extra or {})
            )
    print(f"  {summary.describe()}")


def check_mysql_target(system: str, allow_external: bool) -> None:
    """A MySQL SOURCE_<SYSTEM>_URL: only the wallet's, and only with --allow-external."""
    variable = f"SOURCE_{system.upper()}_URL"
    url = os.environ.get(variable, "")
    if not is_mysql_url(url):
        return
    scheme = url.partition("://")[0]
    if system != "wallet":
        raise UnsupportedTarget(
            f"{variable} is a {scheme}:// URL, but only the wallet simulator writes MySQL: "
            f"point {variable} at a PostgreSQL database, or leave {system} out of --systems."
        )
    if not allow_external:  # the embedded services are PostgreSQL: this one is someone's
        raise ExternalTarget(
            f"refusing to write simulated data into {variable} ({scheme}://): a MySQL "
            "database is never the embedded service and may hold real data. Pass "
            "--allow-external if it is a scratch one."
        )


def simulate(
    systems: list[str],
    *,
    days: int = 30,
    gifts: int | None = None,
    events_per_day: int = 20_000,
    seed: int = 42,
    end: date | None = None,
    reset: bool = False,
    allow_external: bool = False,
) -> None:
    apply_env(dagster_home=False)
    check_targets(systems, allow_external)
    common = {"days": days, "seed": seed, "end": end, "reset": reset}
    if "gifts" in systems:
        simulate_gift_system(gifts=gifts, **common)
    if "yesgoddess" in systems:
        simulate_yesgoddess_system(events_per_day=events_per_day, **common)
    for system in APP_SYSTEMS:
        if system in systems:
            extra = _mashup_counter_options(allow_external) if system == "mashups" else None
            simulate_app_system(system, events_per_day=events_per_day, extra=extra, **common)
