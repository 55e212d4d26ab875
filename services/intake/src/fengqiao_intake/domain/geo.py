"""Distances (WGS84, haversine) for duplicate detection and nearest-grid lookup."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def degree_box(lat: float, radius_m: float) -> tuple[float, float]:
    """(dlat, dlon) in degrees covering ``radius_m`` around latitude ``lat``."""
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    return dlat, dlon


def nearest(lat: float, lon: float, points: list[tuple[str, float, float]], max_m: float) -> str | None:
    best, best_d = None, max_m
    for code, plat, plon in points:
        d = distance_m(lat, lon, plat, plon)
        if d <= best_d:
            best, best_d = code, d
    return best
