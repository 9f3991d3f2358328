"""Tracking tests sign their batches with the web tests' stand-in for SendGrid's key."""

from __future__ import annotations

import pytest

from tests.web.conftest import Signer


@pytest.fixture
def signer() -> Signer:
    return Signer()
