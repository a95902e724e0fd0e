"""Pure parsers: ``parse(record) -> list[Event]``. No I/O, no clock, no globals."""
