"""Duplicate detection (pure): the nearest open case of the same category within the radius."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise

from . import geo


def search_box(lat: float, lon: float, radius_m: float) -> tuple[tuple[float, float], tuple[float, float]]:
    dlat, dlon = geo.degree_box(lat, radius_m)
    return (lat - dlat, lat + dlat), (lon - dlon, lon + dlon)


def window_start(at: datetime, hours: float) -> datetime:
    return at - timedelta(hours=hours)


def nearest(lat: float, lon: float, candidates: Iterable[dict], radius_m: float) -> str | None:
    """``candidates``: {"id", "lat", "lon"}; the closest within ``radius_m`` (ties: the first)."""
    best, best_d = None, radius_m
    for r in candidates:
        dist = geo.distance_m(lat, lon, r["lat"], r["lon"])
        if dist <= best_d:
            best, best_d = r["id"], dist
    return best


# Text similarity of two descriptions: Jaccard over Chinese character bigrams (letters and digits kept,
# punctuation and spaces dropped). Computed here, over the few candidates the place/time query returns,
# rather than with pg_trgm: pg_trgm counts only "alphanumeric" characters as words, which for CJK depends on
# the database's locale (none under the C locale), and the fakes then score exactly like PostgreSQL.
def bigrams(text: str | None) -> set[str]:
    chars = [c for c in (text or "").lower() if c.isalnum()]
    return {a + b for a, b in pairwise(chars)}


def similarity(a: str | None, b: str | None) -> float:
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def likely(a: str | None, b: str | None, threshold: float) -> bool:
    """A proposed duplicate worth confirming: the texts share at least ``threshold`` of their bigrams."""
    return similarity(a, b) >= threshold
