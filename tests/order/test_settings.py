"""Order's deadlines as operators set them (`ORDER_*_SECONDS`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from oms.order.app import STRIPE_SHORTEST, OrderSettings


def test_the_checkout_window_leaves_payment_time_to_open_a_session_stripe_accepts() -> None:
    # Stripe refuses a session expiring less than 30 minutes after it creates it, and it
    # creates it after the order was placed: a 30-minute window would always be refused.
    window = OrderSettings().deadlines().checkout_window

    assert window >= timedelta(seconds=STRIPE_SHORTEST + 300)
    with pytest.raises(ValidationError):
        OrderSettings(checkout_window_seconds=STRIPE_SHORTEST)
    with pytest.raises(ValidationError):
        OrderSettings(checkout_window_seconds=86401)


def test_every_deadline_comes_from_its_setting() -> None:
    settings = OrderSettings(pending_seconds=5, kitchen_start_seconds=7, pickup_seconds=9)

    deadlines = settings.deadlines()

    assert (deadlines.pending, deadlines.kitchen_start, deadlines.pickup) == (
        timedelta(seconds=5),
        timedelta(seconds=7),
        timedelta(seconds=9),
    )


def test_the_deadline_sweep_runs_every_few_minutes_and_leaves_late_timers_a_margin() -> None:
    settings = OrderSettings()

    assert settings.deadline_sweep_seconds == 300
    assert settings.deadline_sweep_margin_seconds == 300
    with pytest.raises(ValidationError):
        OrderSettings(deadline_sweep_seconds=0)
