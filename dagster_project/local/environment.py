"""Resolve the URLs every part of the project uses, starting embedded services only when
their URL is not set. `apply_env()` is the one entry point: after it, os.environ holds
WAREHOUSE_URL, REDIS_URL, the dbt profile variables and a DAGSTER_HOME."""

from __future__ import annotations

import os
from pathlib import Path

from dagster_project.local import services
from dagster_project.settings import SYSTEMS, analytics_home, dbt_env_from_url

# Set when REDIS_URL points at the embedded Redis: the simulator writes only there unless told.
EMBEDDED_REDIS_FLAG = "ANALYTICS_EMBEDDED_REDIS"
EMBEDDED_WAREHOUSE_FLAG = "ANALYTICS_EMBEDDED_WAREHOUSE"

# The committed instance config (package data): PostgreSQL storage, run queue, concurrency
# pools, run monitoring. DAGSTER_HOME gets a copy.
INSTANCE_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def _ensure_dagster_home(home: Path) -> None:
    """Copy the committed dagster.yaml into DAGSTER_HOME when it is missing there. The
    project's own default home (ANALYTICS_HOME/dagster) also gets a stale copy replaced, so
    a change to the pools or storage in the repo reaches the local instance; a DAGSTER_HOME
    you chose (a deployment's, perhaps a read-only mount with its own run launcher) is
    never overwritten."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = INSTANCE_YAML.read_text()
    ours = home.resolve() == _default_home().resolve()
    if not config.exists() or (ours and config.read_text() != wanted):
        config.write_text(wanted)


def _default_home() -> Path:
    return analytics_home() / "dagster"


def apply_env(*, dagster_home: bool = True) -> dict[str, str]:
    """Fill os.environ with every URL; start embedded Postgres/Redis only where unset."""
    env: dict[str, str] = {}
    if not os.environ.get("WAREHOUSE_URL"):
        ports = services.start_postgres()
        env["WAREHOUSE_URL"] = ports.postgres_url("warehouse")
        env[EMBEDDED_WAREHOUSE_FLAG] = "1"
        env.setdefault("DAGSTER_POSTGRES_URL", ports.postgres_url("dagster"))
        for system in SYSTEMS:
            env[f"SOURCE_{system.upper()}_URL"] = ports.postgres_url(system)
    if not os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = services.start_redis().redis_url()
        env[EMBEDDED_REDIS_FLAG] = "1"
    for key, value in env.items():
        os.environ.setdefault(key, value)
    # Dagster's storage falls back to the warehouse database when nothing else is given.
    os.environ.setdefault("DAGSTER_POSTGRES_URL", os.environ["WAREHOUSE_URL"])
    os.environ.update(dbt_env_from_url(os.environ["WAREHOUSE_URL"]))
    if dagster_home:
        os.environ.setdefault("DAGSTER_HOME", str(_default_home()))
        _ensure_dagster_home(Path(os.environ["DAGSTER_HOME"]))
    return {k: os.environ[k] for k in ("WAREHOUSE_URL", "REDIS_URL", "DAGSTER_POSTGRES_URL")}
