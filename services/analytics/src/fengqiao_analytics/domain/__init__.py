"""Pure read-model rules of analytics: no I/O."""
