"""The unit of work: one transaction, the service's repositories over it, and the events it emits.

Every use case has the same signature, ``async def verb(uow, principal, cmd) -> View`` (principal
and command where it has them), and runs inside ``async with uow:``::

    async def regrade(uow: IntakeUoW, principal: Principal, cmd: Regrade) -> CaseView:
        async with uow:
            case = await uow.cases.get(cmd.case_id, lock=True)
            ...                                      # decide with domain/ functions
            await uow.cases.update(case.id, grade=cmd.grade)
            uow.emit(CaseRegraded(...))
            await uow.commit()
        return view

Two implementations per service, one interface:

* :class:`SqlUnitOfWork` opens an ``AsyncSession`` from the session factory, builds the
  repositories over it (``_bind``), writes emitted events to the outbox table in the same
  transaction at ``commit()`` (one INSERT for all of them) and rolls back on error or when the block
  ends without ``commit()``. :meth:`SqlUnitOfWork.joined` wraps a session somebody else owns (an
  event consumer's transaction): ``commit()`` then only flushes the events, the owner commits.
* :class:`FakeUnitOfWork` keeps repositories in memory (the service's fakes), records the events in
  ``committed_events`` when committed and drops them on rollback, so a use case's unit test asserts
  the state and the outbox it leaves without PostgreSQL or Kafka.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .clock import SYSTEM_CLOCK, Clock


class UnitOfWork(ABC):
    """The interface use cases see: ``emit``, ``commit``, ``rollback``, ``clock``, repositories.
    Abstract: :class:`SqlUnitOfWork` and :class:`FakeUnitOfWork` implement ``commit``/``rollback``."""

    clock: Clock

    def __init__(self, clock: Clock | None = None):
        self.clock = clock or SYSTEM_CLOCK
        self._pending: list[tuple[BaseModel, Any]] = []

    def now(self):
        return self.clock.now()

    def emit(self, *payloads: BaseModel, causation: Any = None) -> None:
        """Queue events for the outbox of this transaction (written at commit, with the state)."""
        for p in payloads:
            self._pending.append((p, causation))

    @property
    def pending_events(self) -> list[BaseModel]:
        return [p for p, _ in self._pending]

    @abstractmethod
    async def commit(self) -> None:
        """Write the state and the queued events in one transaction."""

    @abstractmethod
    async def rollback(self) -> None:
        """Drop the state changes and the queued events."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.rollback()


class SqlUnitOfWork(UnitOfWork):
    """A transaction on the service's database. Subclasses build repositories in :meth:`_bind`."""

    def __init__(self, session_factory: async_sessionmaker | None, outbox: Any, clock: Clock | None = None,
                 *, session: AsyncSession | None = None):
        super().__init__(clock)
        self._factory = session_factory
        self.outbox = outbox
        self.session: AsyncSession | None = session
        self._owned = session is None
        self._depth = 0
        if session is not None:
            self._bind(session)

    @classmethod
    def joined(cls, session: AsyncSession, outbox: Any, clock: Clock | None = None, **kw) -> Self:
        """A unit of work inside a transaction owned by the caller (consumers): never commits it."""
        return cls(None, outbox, clock, session=session, **kw)

    def _bind(self, session: AsyncSession) -> None:
        """Create the repositories over ``session`` (subclasses)."""

    async def __aenter__(self) -> Self:
        self._depth += 1
        if self._depth == 1 and self._owned:
            assert self._factory is not None
            self.session = self._factory()
            self._bind(self.session)
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self._depth -= 1
        if self._depth:
            return
        if not self._owned and exc_type is None:
            await self.flush_events()  # joined: the owner's commit writes the events with the state
        elif exc_type is not None or self._pending:
            await self.rollback()
        if self._owned and self.session is not None:
            await self.session.close()
            self.session = None

    async def flush_events(self) -> list[Any]:
        if not self._pending:
            return []
        assert self.session is not None
        envs = [self.outbox.envelope(p, causation=c) for p, c in self._pending]
        await self.outbox.add_envelopes(self.session, envs)
        self._pending.clear()
        return envs

    async def commit(self) -> None:
        await self.flush_events()
        assert self.session is not None
        if self._owned:
            await self.session.commit()
        else:
            await self.session.flush()

    async def rollback(self) -> None:
        self._pending.clear()
        if self._owned and self.session is not None:
            await self.session.rollback()


class FakeUnitOfWork(UnitOfWork):
    """An in-memory unit of work for use-case unit tests; subclasses add fake repositories.

    ``committed_events`` holds what a real one would have written to the outbox; ``commits``
    counts commits. Fake repositories should change their state only through ``self`` so that a
    rollback can restore it: subclasses implement :meth:`snapshot` / :meth:`restore` (the default
    deep-copies every attribute named in ``repositories``).
    """

    repositories: tuple[str, ...] = ()

    def __init__(self, clock: Clock | None = None):
        super().__init__(clock)
        self.committed_events: list[BaseModel] = []
        self.commits = 0
        self._saved: dict[str, Any] | None = None

    def snapshot(self) -> dict[str, Any]:
        import copy

        return {name: copy.deepcopy(getattr(self, name)) for name in self.repositories}

    def restore(self, saved: dict[str, Any]) -> None:
        for name, value in saved.items():
            setattr(self, name, value)

    async def __aenter__(self) -> Self:
        self._saved = self.snapshot()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self._pending:
            await self.rollback()

    async def commit(self) -> None:
        self.committed_events.extend(p for p, _ in self._pending)
        self._pending.clear()
        self.commits += 1
        self._saved = self.snapshot()

    async def rollback(self) -> None:
        self._pending.clear()
        if self._saved is not None:
            self.restore(self._saved)

    def events_of(self, model: type[BaseModel]) -> list[BaseModel]:
        return [e for e in self.committed_events if isinstance(e, model)]
