"""Use cases of the mediation service: ``async def verb(uow, principal, cmd) -> View``; each loads through
the unit of work's repositories, decides with ``domain/`` and commits its state and events together."""
