from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Grade = Literal["red", "orange", "yellow", "blue"]


class Location(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lat: float | None = None
    lon: float | None = None
    address: str | None = None


class Actor(BaseModel):
    """Who did something: a user, an API key, or the system (timers)."""

    model_config = ConfigDict(extra="ignore")
    id: str
    kind: Literal["user", "api_key", "system", "service"] = "user"
    name: str | None = None
    role: str | None = None
    department: str | None = None


SYSTEM = Actor(id="system", kind="system", name="system")
