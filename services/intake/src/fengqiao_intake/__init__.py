"""Intake: reports, petitions, external demands, Open311, case status, webhooks"""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[2]
