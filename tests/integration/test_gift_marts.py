"""Sync + real dbt build on the hand-made fixture: every mart number as computed by hand."""

from __future__ import annotations

import psycopg
import pytest

from dagster_project.ingest.redis_gifts import GiftKeys, sync_gifts
from dagster_project.settings import metabase_role
from tests import gift_fixture
from tests.conftest import run_dbt

FUNNEL_SQL = """
select date, campaign_id, total_created, total_viewed, total_preclaim, total_education,
       total_claimed, conversion_rate, avg_claim_time_min, total_value_usd
from marts.fct_gift_funnel_daily order by date, campaign_id nulls last
"""
ACTIVITY_SQL = """
select date, gifts_created, gifts_viewed, gifts_preclaim, gifts_education, gifts_claimed,
       gifts_expired, gifts_returned
from marts.fct_gift_activity_daily order by date
"""
EMBED_SQL = "select date, campaign_id, total from embed.gift_funnel_public order by 1, 2 nulls last"


@pytest.fixture
def built(conn, redis_client, gift_prefix, dbt_build):
    gift_fixture.load(redis_client, gift_prefix)
    sync_gifts(conn, redis_client, keys=GiftKeys(gift_prefix))
    dbt_build()
    return conn


def test_marts_match_the_hand_computation(built):
    assert built.execute(FUNNEL_SQL).fetchall() == gift_fixture.FUNNEL
    assert built.execute(ACTIVITY_SQL).fetchall() == gift_fixture.ACTIVITY
    assert built.execute(EMBED_SQL).fetchall() == gift_fixture.EMBED


def test_staging_keeps_only_email_hashes(built, redis_client, gift_prefix, dbt_build):
    gift = gift_fixture.GIFTS["g01"] | {"email_hash": "Someone@Example.com "}
    gift_fixture.load(redis_client, gift_prefix, {"g_email": gift})
    sync_gifts(built, redis_client, keys=GiftKeys(gift_prefix))
    value = built.execute(
        "select email_hash from staging.stg_cryptogift__gifts where gift_id = 'g_email'"
    ).fetchone()[0]
    expected = built.execute(
        "select 'sha256:' || encode(sha256('someone@example.com'::bytea), 'hex')"
    ).fetchone()[0]
    assert value == expected


def test_mart_columns_carry_their_descriptions(built):
    undocumented = built.execute("""
        select c.table_schema || '.' || c.table_name || '.' || c.column_name
        from information_schema.columns c
        where c.table_schema in ('marts', 'embed')
          and col_description(
                (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass,
                c.ordinal_position) is null
    """).fetchall()
    assert undocumented == []


def _become_metabase(conn) -> None:
    """SET ROLE needs membership; a non-superuser test user (PostgreSQL 15) grants it itself."""
    role = metabase_role()
    if not conn.execute("select pg_has_role(%s, 'member')", [role]).fetchone()[0]:
        conn.execute(f"grant {role} to current_user")
        conn.commit()
    conn.execute(f"set role {role}")


@pytest.mark.parametrize("schema", ["raw", "staging", "intermediate", "quarantine", "ops"])
def test_metabase_role_is_refused_outside_marts_and_embed(built, schema):
    table = built.execute(
        "select table_name from information_schema.tables where table_schema = %s limit 1",
        [schema],
    ).fetchone()[0]
    built.commit()
    _become_metabase(built)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        built.execute(f"select * from {schema}.{table} limit 1")
    built.rollback()


def test_metabase_role_reads_marts_and_embed(built):
    _become_metabase(built)
    for table in (
        "marts.fct_gift_funnel_daily",
        "marts.fct_gift_activity_daily",
        "embed.gift_funnel_public",
    ):
        assert built.execute(f"select count(*) from {table}").fetchone()[0] > 0
    login, superuser = built.execute(
        "select rolcanlogin, rolsuper from pg_roles where rolname = %s", [metabase_role()]
    ).fetchone()
    assert (login, superuser) == (False, False)
    built.rollback()


def test_dbt_tests_catch_a_broken_grain(built):
    # The grain test must be able to fail: duplicate one (date, NULL campaign) row.
    built.execute("""insert into marts.fct_gift_funnel_daily
                     select * from marts.fct_gift_funnel_daily where campaign_id is null limit 1""")
    built.commit()
    out = run_dbt("test", "--select", "fct_gift_funnel_daily", check=False)
    assert out.returncode != 0
    assert "unique_grain_fct_gift_funnel_daily_date__campaign_id" in out.stdout
