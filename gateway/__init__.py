"""intake-gateway: the daemon's adapters, wiring and lifecycle.

This package's ``__init__`` stays empty of imports so that the pure core
(``parsers``, ``rules``) can use :mod:`core.errors` without pulling in
aiohttp, aiosmtpd or tortoise.
"""

__version__ = "0.1.0"
