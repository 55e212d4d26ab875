"""Development and test stack: embedded PostgreSQL, the Tansu broker, and the process supervisor."""
