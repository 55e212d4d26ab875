"""Composition root of the intake service: ``uvicorn --factory fengqiao_intake.main:create_app``."""

from fastapi import FastAPI

from fengqiao_common.app import create_service_app

from .config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Fengqiao intake",
        description="Intake: reports, petitions, external demands, Open311, case status, webhooks",
    )
