"""Composition root of the dispatch service: ``uvicorn --factory fengqiao_dispatch.main:create_app``."""

from fastapi import FastAPI

from fengqiao_common.app import create_service_app

from .config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Fengqiao dispatch",
        description="Dispatch: routing rules, orders to departments, time limits and escalation",
    )
