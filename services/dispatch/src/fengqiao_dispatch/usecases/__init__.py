"""Dispatch's use cases: ``async def verb(uow, principal, cmd) -> view`` (principal and command where
they have them, collaborators such as the jurisdiction as keywords). Each runs in ``async with uow``,
decides with ``domain/`` and raises domain errors, never HTTP status codes."""
