"""Mediation: mediator pool, bookings, sealed session records, judicial confirmation"""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[2]
