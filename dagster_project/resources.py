"""Connections, all from the environment (embedded services when a URL is unset)."""

import os

import psycopg
import redis
from dagster import ConfigurableResource

from dagster_project.local.environment import apply_env
from dagster_project.settings import libpq_url


class WarehouseResource(ConfigurableResource):
    """The warehouse PostgreSQL: WAREHOUSE_URL, or the embedded server."""

    url: str | None = None

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        apply_env(dagster_home=False)  # inside a run: the instance is already chosen
        return os.environ["WAREHOUSE_URL"]

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(libpq_url(self.resolved_url()), application_name="analytics-dagster")


class RedisResource(ConfigurableResource):
    """The Redis holding CryptoGift's gift hashes: REDIS_URL, or the embedded server."""

    url: str | None = None

    def client(self) -> redis.Redis:
        if not self.url:
            apply_env(dagster_home=False)
        return redis.Redis.from_url(self.url or os.environ["REDIS_URL"])
