"""Composition root of the mediation service: ``uvicorn --factory fengqiao_mediation.main:create_app``."""

from fastapi import FastAPI

from fengqiao_common.app import create_service_app

from .config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Fengqiao mediation",
        description="Mediation: mediator pool, bookings, sealed session records, judicial confirmation",
    )
