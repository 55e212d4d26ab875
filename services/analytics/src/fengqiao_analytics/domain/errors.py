"""Errors of analytics that are not domain refusals (those are fengqiao_common.errors)."""


class Deadlocked(Exception):
    """A transaction lost a deadlock; the caller may retry it."""
