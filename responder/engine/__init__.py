"""The engine: cycle, escalation and delivery of the outbox."""
