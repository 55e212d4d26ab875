"""Composition root of the analytics service: ``uvicorn --factory fengqiao_analytics.main:create_app``."""

from fastapi import FastAPI

from fengqiao_common.app import create_service_app

from .config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Fengqiao analytics",
        description="Analytics: read models, situation API, weak-signal ledger, big screen",
    )
