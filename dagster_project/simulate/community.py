"""The CryptoGift community's wallet addresses, shared by the gift simulator (Redis) and
the DAO simulator (Postgres): gifts name as referrer the same wallets that hold referral
codes, so the referrer leaderboard's conversion quality has something to count."""

from __future__ import annotations

from hashlib import sha256


def community_wallet(n: int) -> str:
    """The n-th community wallet (0x + 40 lowercase hex), the same in every run."""
    return "0x" + sha256(f"cryptogift-community-{n}".encode()).hexdigest()[:40]
