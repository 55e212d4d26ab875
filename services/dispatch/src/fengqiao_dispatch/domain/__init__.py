"""Pure model and rules of dispatch (no I/O): routing rules, order state machine, time limits, timers."""
