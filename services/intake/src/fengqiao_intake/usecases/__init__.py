"""Intake's use cases: ``async def verb(uow, principal, cmd) -> View``, one transaction each."""
