"""Analytics: read models, situation API, weak-signal ledger, big screen"""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[2]
