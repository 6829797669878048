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

    @property
    def allowed_filters(self) -> tuple[str, ...]:
        return (*RANGE_FILTERS, *self.filters)


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
    )
}
