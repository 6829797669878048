"""The `analytics` command as a user runs it."""

from __future__ import annotations

import os

from dagster_project.cli import main
from dagster_project.local.environment import EMBEDDED_REDIS_FLAG, EMBEDDED_WAREHOUSE_FLAG


def test_simulate_refuses_a_redis_that_is_not_the_embedded_one(
    redis_client, gift_prefix, monkeypatch, capsys
):
    monkeypatch.delenv(EMBEDDED_REDIS_FLAG, raising=False)  # REDIS_URL came from outside
    assert main(["simulate", "--systems", "gifts", "--gifts", "5"]) == 2
    assert "refusing to write simulated data into REDIS_URL" in capsys.readouterr().err
    assert redis_client.scard(f"{gift_prefix}dirty") == 0

    argv = ["simulate", "--systems", "gifts", "--gifts", "5", "--days", "2", "--allow-external"]
    assert main(argv) == 0
    assert redis_client.scard(f"{gift_prefix}dirty") == 5


def test_simulate_refuses_an_app_database_on_another_server(
    redis_client, gift_prefix, monkeypatch, capsys
):
    """The warehouse is embedded, but SOURCE_WALLET_URL was set to someone's database:
    nothing is written anywhere, not even the gifts asked for beside it."""
    monkeypatch.setenv(EMBEDDED_REDIS_FLAG, "1")  # as `analytics` on the embedded services
    monkeypatch.setenv(EMBEDDED_WAREHOUSE_FLAG, "1")
    monkeypatch.setenv("SOURCE_WALLET_URL", "postgresql://app@127.0.0.1:1/wallet")
    assert main(["simulate", "--systems", "gifts,wallet", "--gifts", "5", "--reset"]) == 2
    assert "refusing to write simulated data into SOURCE_WALLET_URL" in capsys.readouterr().err
    assert redis_client.scard(f"{gift_prefix}dirty") == 0


def test_status_shows_the_services(capsys):
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "postgres_url" in out and "redis_url" in out


def test_simulate_names_an_app_database_that_is_not_set(monkeypatch, capsys):
    monkeypatch.delenv("SOURCE_MASHUPS_URL", raising=False)
    assert main(["simulate", "--systems", "mashups", "--allow-external"]) == 2
    assert "SOURCE_MASHUPS_URL is not set" in capsys.readouterr().err


def test_demo_refuses_to_sync_counters_out_of_the_apps_own_redis(monkeypatch, capsys):
    """MASHUP_REDIS_URL is the Mashups app's Redis: the demo's counter sync would DECRBY
    its counters into a warehouse the next demo resets."""
    from dagster_project.demo import run_demo

    monkeypatch.setenv(EMBEDDED_REDIS_FLAG, "1")
    monkeypatch.setenv(EMBEDDED_WAREHOUSE_FLAG, "1")
    url = os.environ["WAREHOUSE_URL"]
    for system in ("yesgoddess", "everreach", "mashups", "wallet", "cryptogift"):
        monkeypatch.setenv(f"SOURCE_{system.upper()}_URL", url)  # the embedded server
    monkeypatch.setenv("MASHUP_REDIS_URL", "redis://app-cache.internal:6379/0")
    assert run_demo(gifts=5, days=1, seed=1) == 2
    assert "refusing to sync the Mashups counters of MASHUP_REDIS_URL" in capsys.readouterr().err
