"""Shared mechanics for every Fengqiao service (settings, database, logging, metrics, health, auth)."""
