"""Routers of the mediation service (prefix /api/v1/mediation), one file per resource."""

from . import agreements, bookings, court, dev, mediations, mediators, seals, sessions

ROUTERS = [mediators.router, bookings.router, mediations.router, sessions.router, agreements.router, court.router,
           seals.router]
DEV_ROUTERS = [dev.router]
