"""Each test of the parking tool gets three messages parked by the real Consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from oms.platform.broker import Broker
from tests.ops.parked_samples import Parked, park_samples


@pytest.fixture
async def parked(broker: Broker) -> AsyncIterator[Parked]:
    samples = await park_samples(broker)
    yield samples
    await samples.stop()
