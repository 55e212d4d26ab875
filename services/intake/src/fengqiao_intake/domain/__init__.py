"""Pure model and rules of intake: no I/O."""
