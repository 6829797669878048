"""The CryptoGift simulator writes what the app writes, consistently and reproducibly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from dagster_project.simulate.gifts import FIELDS, clear_gifts, simulate_gifts

END = date(2026, 6, 30)


def _simulate(redis_client, prefix: str, seed: int = 3):
    return simulate_gifts(
        redis_client, gifts=2000, days=10, seed=seed, end=END, prefix=prefix,
        counter_prefix=f"{prefix}campaign:",
    )  # fmt: skip


def _hashes(redis_client, prefix: str) -> dict[str, dict[str, str]]:
    ids = sorted(m.decode() for m in redis_client.smembers(f"{prefix}dirty"))
    pipe = redis_client.pipeline(transaction=False)
    for gift_id in ids:
        pipe.hgetall(f"{prefix}{gift_id}")
    decoded = [{k.decode(): v.decode() for k, v in h.items()} for h in pipe.execute()]
    return dict(zip(ids, decoded, strict=True))


def test_same_seed_and_end_give_the_same_gifts(redis_client, gift_prefix):
    first = _simulate(redis_client, gift_prefix)
    before = _hashes(redis_client, gift_prefix)
    clear_gifts(redis_client, prefix=gift_prefix, counter_prefix=f"{gift_prefix}campaign:")
    assert _simulate(redis_client, gift_prefix) == first
    assert _hashes(redis_client, gift_prefix) == before
    assert len(before) == first.gifts == 2000


def test_hashes_have_the_seed_fields_and_counters_match_them(redis_client, gift_prefix):
    summary = _simulate(redis_client, gift_prefix)
    gifts = _hashes(redis_client, gift_prefix)
    assert all(set(h) == set(FIELDS) for h in gifts.values())

    expected: Counter = Counter()
    for h in gifts.values():
        for field, counter in [("created_at", "created"), ("viewed_at", "viewed"),
                               ("claimed_at", "claimed")]:  # fmt: skip
            if h["campaign_id"] and h[field]:
                expected[(h["campaign_id"], counter)] += 1
    actual: Counter = Counter()
    for key in redis_client.scan_iter(match=f"{gift_prefix}campaign:*:counters"):
        campaign = key.decode().removeprefix(f"{gift_prefix}campaign:").removesuffix(":counters")
        for counter, n in redis_client.hgetall(key).items():
            actual[(campaign, counter.decode())] = int(n)
    assert actual == expected and summary.campaigns == len({c for c, _ in actual})


def test_funnel_leaks_claims_cross_midnight_and_nothing_is_in_the_future(redis_client, gift_prefix):
    summary = _simulate(redis_client, gift_prefix)
    gifts = _hashes(redis_client, gift_prefix).values()
    cutoff = datetime.combine(END + timedelta(days=1), datetime.min.time(), UTC)

    def stamp(h, f):
        try:
            return datetime.fromisoformat(h[f]) if h[f] else None
        except ValueError:  # a deliberately malformed value
            return None

    steps = ["created_at", "viewed_at", "preclaim_at", "education_completed_at", "claimed_at"]
    counts = [sum(stamp(h, f) is not None for h in gifts) for f in steps]
    assert all(a > b > 0 for a, b in zip(counts, counts[1:], strict=False))  # drop-off
    stamps = [stamp(h, f) for h in gifts for f in steps if stamp(h, f)]
    assert max(stamps) < cutoff
    crossing = [h for h in gifts if stamp(h, "claimed_at") and stamp(h, "created_at")
                and stamp(h, "claimed_at").date() > stamp(h, "created_at").date()]  # fmt: skip
    assert len(crossing) > 50
    no_campaign = sum(not h["campaign_id"] for h in gifts)
    assert 0 < no_campaign < len(gifts) and 0 < summary.malformed < 40
