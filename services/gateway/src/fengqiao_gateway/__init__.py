"""Gateway: the public entry point, authentication, staff console"""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[2]
