"""The rule engine: pure ``evaluate(event, state, now) -> Decision``."""
