"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.dovecot import Dovecot, running_dovecot


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A real Dovecot IMAP server of this test's own."""
    with running_dovecot() as server:
        yield server
