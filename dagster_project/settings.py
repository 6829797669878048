"""Configuration from the environment (DESIGN.md §4). Nothing secret lives in the repo."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

SYSTEMS = ("cryptogift", "yesgoddess", "wallet", "everreach", "mashups")

GIFT_KEY_PREFIX_ENV = "GIFT_REDIS_PREFIX"
DEFAULT_GIFT_KEY_PREFIX = "gift:analytics:"
DEFAULT_COUNTER_PREFIX = "gift:campaign:"

# Mashups realtime counters (seed 004): `{prefix}{mashupId}:plays` / `:likes`
MASHUP_KEY_PREFIX_ENV = "MASHUP_REDIS_PREFIX"
DEFAULT_MASHUP_KEY_PREFIX = "mashup:"
MASHUP_REDIS_URL_ENV = "MASHUP_REDIS_URL"  # the Mashups app's Redis; default REDIS_URL
MASHUP_SCAN_ENV = "MASHUP_COUNTERS_SCAN"  # "1": also SCAN for counters (no dirty set)


def analytics_home() -> Path:
    """Where embedded data, logs and export files live (git-ignored `.local/` by default)."""
    home = Path(os.environ.get("ANALYTICS_HOME") or REPO_ROOT / ".local")
    return home.expanduser().resolve()


def gift_key_prefix() -> str:
    return os.environ.get(GIFT_KEY_PREFIX_ENV) or DEFAULT_GIFT_KEY_PREFIX


def gift_counter_prefix() -> str:
    """Prefix of the campaign counter hashes `{prefix}{campaignId}:counters`."""
    return os.environ.get("GIFT_COUNTER_PREFIX") or DEFAULT_COUNTER_PREFIX


def mashup_key_prefix() -> str:
    return os.environ.get(MASHUP_KEY_PREFIX_ENV) or DEFAULT_MASHUP_KEY_PREFIX


def mashup_redis_url() -> str | None:
    """The Mashups app's Redis when it is not the one of REDIS_URL (None: REDIS_URL)."""
    return os.environ.get(MASHUP_REDIS_URL_ENV) or None


def mashup_counters_scan() -> bool:
    """Opt-in for an app that keeps no dirty set: find the counters by SCAN (never KEYS)."""
    value = (os.environ.get(MASHUP_SCAN_ENV) or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{MASHUP_SCAN_ENV}={value!r}: use 1 (SCAN for counters) or 0 (dirty set)")


def metabase_role() -> str:
    return os.environ.get("METABASE_ROLE") or "metabase"


def libpq_url(url: str) -> str:
    """SQLAlchemy-style `postgresql+psycopg://` → the plain URL psycopg and libpq take."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}" if sep else url


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def dbt_env_from_url(url: str) -> dict[str, str]:
    """Split WAREHOUSE_URL into the variables `dbt_project/profiles.yml` reads.

    dbt profiles cannot take a URL, so the URL (the one contract users set) is
    translated here, and dbt sees only plain environment variables.
    """
    parts = urlsplit(libpq_url(url))
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(
            f"WAREHOUSE_URL must be a postgresql:// URL, got scheme {parts.scheme!r} "
            f"in {redact(url)!r}"
        )
    return {
        "WAREHOUSE_HOST": parts.hostname or "localhost",
        "WAREHOUSE_PORT": str(parts.port or 5432),
        "WAREHOUSE_USER": unquote(parts.username or "postgres"),
        "WAREHOUSE_PASSWORD": unquote(parts.password or ""),
        "WAREHOUSE_DB": parts.path.lstrip("/") or "postgres",
    }
