"""The export datasets: for each, the relation it reads, the columns of the file, the
column `from`/`to` bound, and the filters seed 002 allows with the column each maps to.

Only names from this registry ever become SQL identifiers; a request's values are bound
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# seed 002's limits
MAX_ROWS = 100_000
MAX_RANGE_DAYS = 365
EXPIRY_HOURS = 24
FORMATS = ("csv", "json")
RANGE_FILTERS = ("from", "to")


@dataclass(frozen=True)
class Dataset:
    name: str
    relation: tuple[str, str]  # (schema, table)
    columns: tuple[str, ...]  # the file's columns, in order
    date_column: str  # `from`/`to` bound this timestamp: [from 00:00 UTC, to + 1 day)
    order_by: tuple[str, ...]  # a total order, so a file is reproducible
    filters: dict[str, str] = field(default_factory=dict)  # filter name -> column
    range_required: bool = True  # seed 002: "from and to date parameters are required"
    date_is_day: bool = False  # date_column is a `date` (bound as days, not UTC instants)
    # with the request's `include_pii` option: the same columns, PII left in (seed 001:
    # "Admin-only, PII redacted unless explicitly requested")
    pii_relation: tuple[str, str] | None = None

    @property
    def options(self) -> tuple[str, ...]:
        return ("include_pii",) if self.pii_relation else ()

    @property
    def allowed_filters(self) -> tuple[str, ...]:
        return (*RANGE_FILTERS, *self.filters, *self.options)


DATASETS: dict[str, Dataset] = {
    ds.name: ds
    for ds in (
        Dataset(
            "transactions",
            ("marts", "fct_wallet_transactions"),
            (
                "entry_id",
                "user_id",
                "username",
                "email_hash",
                "token_type",
                "direction",
                "reason",
                "amount",
                "balance_after_regular",
                "balance_after_promo",
                "reference_id",
                "metadata",
                "occurred_at",
            ),
            date_column="occurred_at",
            order_by=("occurred_at", "entry_id"),
            filters={
                "user_id": "user_id",
                "token_type": "token_type",
                "direction": "direction",
                "reason": "reason",
            },
        ),  # fmt: skip
        Dataset(
            "purchases",
            ("marts", "fct_purchases"),
            (
                "purchase_id",
                "user_id",
                "provider",
                "status",
                "tokens",
                "amount_inr",
                "created_at",
                "updated_at",
            ),
            date_column="created_at",
            order_by=("created_at", "purchase_id"),
            filters={"user_id": "user_id", "status": "status", "provider": "provider"},
        ),  # fmt: skip
        Dataset(
            "referrals",
            ("marts", "fct_wallet_referrals"),
            (
                "referral_id",
                "campaign_id",
                "referrer_user_id",
                "referred_user_id",
                "status",
                "bonus_awarded",
                "created_at",
                "updated_at",
            ),
            date_column="created_at",
            order_by=("created_at", "referral_id"),
            filters={
                "campaign_id": "campaign_id",
                "status": "status",
                "referrer_user_id": "referrer_user_id",
            },
        ),  # fmt: skip
        Dataset(
            "authorizations",
            ("marts", "fct_wallet_authorizations"),
            (
                "authorization_id",
                "user_id",
                "feature",
                "amount",
                "status",
                "created_at",
                "updated_at",
            ),
            date_column="created_at",
            order_by=("created_at", "authorization_id"),
            filters={"user_id": "user_id", "feature": "feature", "status": "status"},
        ),  # fmt: skip
        Dataset(
            "users",
            ("marts", "dim_wallet_users"),
            (
                "user_id",
                "username",
                "email_hash",
                "role",
                "created_at",
                "last_entry_at",
                "balance_regular",
                "balance_promo",
            ),
            date_column="created_at",  # seed 002: from/to is the registration date range
            order_by=("user_id",),
            filters={"role": "role"},
            range_required=False,
        ),  # fmt: skip
        Dataset(
            "events",  # seed 001's exportEvents: YesGoddess events, first arrival of each
            ("staging", "stg_yesgoddess__events"),
            (
                "event_id",
                "occurred_at",
                "source",
                "event_type",
                "actor_type",
                "actor_id",
                "project_id",
                "ip_asset_id",
                "license_id",
                "session_id",
                "props",
            ),
            date_column="occurred_at",
            order_by=("occurred_at", "event_id"),
            filters={
                "event_type": "event_type",
                "source": "source",
                "actor_id": "actor_id",
                "project_id": "project_id",
                "ip_asset_id": "ip_asset_id",
                "license_id": "license_id",
            },
            pii_relation=("pii", "stg_yesgoddess__unredacted_events"),
        ),  # fmt: skip
        Dataset(
            "ml_responses",  # seed 003's ml_response_samples (ml_dump_date_range)
            ("marts", "ml_response_samples"),
            (
                "date",
                "response_id",
                "prompt_id",
                "user_id",
                "model",
                "created_at",
                "prompt_text",
                "response_text",
                "tokens_out",
                "cost_usd",
                "latency_ms",
                "finish_reason",
                "copied_count",
                "liked_count",
                "disliked_count",
                "helpful_score",
                "was_copied",
                "dwell_ms",
            ),
            date_column="created_at",
            order_by=("created_at", "response_id"),
            filters={"model": "model", "user_id": "user_id"},
        ),  # fmt: skip
        Dataset(
            "gift_funnel",  # seed 000's gift funnel per day and campaign
            ("marts", "fct_gift_funnel_daily"),
            (
                "date",
                "campaign_id",
                "total_created",
                "total_viewed",
                "total_preclaim",
                "total_education",
                "total_claimed",
                "conversion_rate",
                "avg_claim_time_min",
                "total_value_usd",
            ),
            date_column="date",
            order_by=("date", "campaign_id"),
            filters={"campaign_id": "campaign_id"},
            date_is_day=True,
        ),  # fmt: skip
    )
}
