"""User-agent strings → device type, browser and OS, at load time (enrichment, not a metric).

Apps often leave `device_type/browser/os` empty and keep the raw user agent. The parsing
is done by ua-parser (the uap-core regexes the field maintains), once per distinct
string: new strings landed since the last run are parsed and added to
`raw.user_agents`, which staging joins where the source left the columns empty.
"""

from __future__ import annotations

from functools import lru_cache

import psycopg
from psycopg import sql
from ua_parser import parse

from dagster_project.ingest import sync_state

TABLE_DDL = """
create schema if not exists raw;
create table if not exists raw.user_agents (
    user_agent text primary key,
    device_type text not null,  -- desktop | mobile | tablet | bot | other
    browser text,
    os text,
    parsed_at timestamptz not null default now()
)
"""

MOBILE_OS = {"Android", "iOS", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}


@lru_cache(maxsize=65_536)
def classify(user_agent: str) -> tuple[str, str | None, str | None]:
    """(device_type, browser, os) of one user-agent string; None where ua-parser has none."""
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else None
    os_family = result.os.family if result.os else None
    device = result.device.family if result.device else ""
    return _device_type(user_agent, device, os_family), browser, os_family


def _device_type(user_agent: str, device: str, os_family: str | None) -> str:
    # uap-core names devices, not device classes; these rules follow its conventions
    # (crawlers are the "Spider" device, tablets are iPads or Android without "Mobile")
    if device == "Spider":
        return "bot"
    if device == "iPad" or "Tablet" in device or "Tablet" in user_agent:
        return "tablet"
    if os_family == "Android" and "Mobile" not in user_agent:
        return "tablet"
    if os_family in MOBILE_OS or "Mobile" in user_agent:
        return "mobile"
    if os_family or (device and device != "Other"):
        return "desktop"
    return "other"


def parse_new_user_agents(conn: psycopg.Connection, raw_table: str, column: str) -> int:
    """Parse the user agents of `raw.<raw_table>` landed since the last run; returns how
    many new strings were added. Reads only rows past the stored `_loaded_at` mark."""
    conn.execute(TABLE_DDL)
    sync_id = f"enrich:user_agents:{raw_table}"
    mark = conn.execute("select last_cursor from ops.sync_state where id = %s", [sync_id])
    since = (mark.fetchone() or [None])[0]
    query = sql.SQL(
        "select distinct src.{col}, max(src._loaded_at) over () from raw.{table} as src "
        "where src.{col} is not null and src._loaded_at > coalesce(%s::timestamptz, '-infinity') "
        "and not exists (select 1 from raw.user_agents as ua where ua.user_agent = src.{col})"
    ).format(col=sql.Identifier(column), table=sql.Identifier(raw_table))
    rows = conn.execute(query, [since]).fetchall()
    if rows:
        with conn.cursor().copy(
            "copy raw.user_agents (user_agent, device_type, browser, os) from stdin"
        ) as copy:
            for user_agent, _ in rows:
                copy.write_row((user_agent, *classify(user_agent)))
        since = rows[0][1].isoformat()
    sync_state.record_success(conn, sync_id, last_cursor=since, items_processed=len(rows))
    conn.commit()
    return len(rows)
