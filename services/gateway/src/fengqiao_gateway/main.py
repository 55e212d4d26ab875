"""Composition root of the gateway service: ``uvicorn --factory fengqiao_gateway.main:create_app``."""

from fastapi import FastAPI

from fengqiao_common.app import create_service_app

from .config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Fengqiao gateway",
        description="Gateway: the public entry point, authentication, staff console",
    )
