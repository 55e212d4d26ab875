"""Dispatch: routing rules, orders to departments, time limits and escalation"""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[2]
