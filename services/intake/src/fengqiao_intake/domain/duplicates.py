"""Duplicate detection (pure): the nearest open case of the same category within the radius."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

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
