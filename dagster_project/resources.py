"""Connections, all from the environment (embedded services when a URL is unset)."""

import os

import psycopg
import redis
from dagster import ConfigurableResource

from dagster_project.local.environment import apply_env
from dagster_project.run_policies import is_transient
from dagster_project.settings import libpq_url, redact


class WarehouseUnreachable(ConnectionError):
    """The warehouse refused or dropped the connection: which one, and what to do. A
    ConnectionError, so the retry policy still retries it (run_policies.py)."""


class WarehouseLoginFailed(RuntimeError):
    """The warehouse answered but refused this login (password, database): not retried."""


class WarehouseResource(ConfigurableResource):
    """The warehouse PostgreSQL: WAREHOUSE_URL, or the embedded server."""

    url: str | None = None

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        apply_env(dagster_home=False)  # inside a run: the instance is already chosen
        return os.environ["WAREHOUSE_URL"]

    def connect(self) -> psycopg.Connection:
        url = self.resolved_url()
        try:
            return psycopg.connect(libpq_url(url), application_name="analytics-dagster")
        except psycopg.OperationalError as exc:
            message = (
                f"the warehouse at {redact(url)} (WAREHOUSE_URL) cannot be reached: "
                f"{' '.join(str(exc).split())}. Start it (`make up` for the embedded one) or "
                "point WAREHOUSE_URL at a running PostgreSQL you may log in to; nothing was "
                "read or written, and the next run starts from the same place."
            )
            # refused or reset: worth a retry; a bad password or database name is not
            if is_transient(exc):
                raise WarehouseUnreachable(message) from exc
            raise WarehouseLoginFailed(message) from exc


class RedisResource(ConfigurableResource):
    """The Redis holding CryptoGift's gift hashes: REDIS_URL, or the embedded server."""

    url: str | None = None

    def client(self) -> redis.Redis:
        if not self.url:
            apply_env(dagster_home=False)
        return redis.Redis.from_url(self.url or os.environ["REDIS_URL"])
