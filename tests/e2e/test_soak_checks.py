"""The soak's kitchen invariants on books made up for each case (no platform): a ready report
for a refunded order is accepted only as the race it can be (the cook finished as the refund
came: voided ticket, never ready in Order); every other cooked-but-ended story is reported.
A refund's stock is written off exactly when a cook had started the order, as the kitchen's
one void report says, and returned otherwise."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.peek import StockBook
from tests.e2e.soak_checks import Books

AT = "2026-12-01T12:00:00+00:00"


def _books(
    status: str,
    history: list[str],
    ticket: str | None,
    reported: int,
    stock: str = "",
    started: int = 0,
    voids: list[bool] | None = None,
) -> Books:
    order: dict[str, Any] = {
        "id": "o-1",
        "status": status,
        "history": [{"status": s, "at": AT} for s in history],
        "total": 950,
        "refunded": status == "refunded",
    }
    reservations = {"o-1": {"state": stock, "lines": {"pizza": 1}}} if stock else {}
    return Books(
        orders={"o-1": order},
        payments={},
        tickets={"o-1": ticket},
        stripe={},
        cooked_reported=Counter({"o-1": reported}),
        started_reported=Counter({"o-1": started}),
        void_reports={"o-1": voids} if voids is not None else {},
        stock=StockBook(items={}, reservations=reservations),
        stock_at_start={},
        parked=0,
        deadlines={},
        now=datetime(2026, 12, 1, 13, tzinfo=UTC),
    )


REFUNDED_COOKING = ["pending", "awaiting_payment", "paid", "preparing", "refunded"]


def test_a_cook_finishing_as_the_refund_came_is_the_one_ready_report_accepted() -> None:
    books = _books("refunded", REFUNDED_COOKING, "voided", reported=1, stock="written_off")

    books.check_kitchen()

    assert books.violations == []
    assert books.counts["cooked as it was refunded, voided, stock written_off"] == 1


@pytest.mark.parametrize(
    ("status", "history", "ticket", "reported"),
    [
        # Refunded, cooked, and the void never reached the ticket: it could be handed out.
        ("refunded", REFUNDED_COOKING, "cooked", 1),
        # A ready report, yet the kitchen has no ticket for it.
        ("refunded", REFUNDED_COOKING, None, 1),
        # Order made a refunded order ready first: it could have been picked up.
        ("refunded", [*REFUNDED_COOKING[:4], "ready", "refunded"], "voided", 1),
        # Never paid: the kitchen cooks only what Order confirmed.
        ("cancelled", ["pending", "awaiting_payment", "cancelled"], "voided", 1),
        ("expired", ["pending", "expired"], None, 1),
        # A served order whose ticket was voided, or reported ready while it is not cooked.
        ("paid", ["pending", "awaiting_payment", "paid"], "voided", 0),
        ("ready", ["pending", "awaiting_payment", "paid", "ready"], "voided", 1),
        ("preparing", ["pending", "awaiting_payment", "paid", "preparing"], "cooked", 1),
    ],
)
def test_every_other_cooked_but_ended_story_is_a_violation(
    status: str, history: list[str], ticket: str | None, reported: int
) -> None:
    books = _books(status, history, ticket, reported)

    books.check_kitchen()

    assert books.violations
    assert all(v.startswith("o-1 ") for v in books.violations)


def test_an_order_served_as_it_should_is_no_violation() -> None:
    history = ["pending", "awaiting_payment", "paid", "preparing", "ready", "picked_up"]
    books = _books("picked_up", history, "cooked", reported=1)

    books.check_kitchen()

    assert books.violations == []


@pytest.mark.parametrize(
    ("started", "voids", "stock"), [(1, [True], "written_off"), (0, [False], "returned")]
)
def test_a_refunds_stock_follows_whether_a_cook_had_started(
    started: int, voids: list[bool], stock: str
) -> None:
    books = _books("refunded", REFUNDED_COOKING, "voided", 0, stock, started, voids)

    books.check_refund_stock()

    assert books.violations == []


@pytest.mark.parametrize(
    ("started", "voids", "stock"),
    [
        # The race as it was: Order saw paid, a cook had started, the stock came back.
        (1, [True], "returned"),
        (0, [False], "written_off"),
        # The void's report disagrees with the cook's start, or came twice, or never.
        (1, [False], "written_off"),
        (0, [False, False], "returned"),
        (1, None, "written_off"),
    ],
)
def test_a_refunds_stock_that_does_not_follow_the_kitchen_is_a_violation(
    started: int, voids: list[bool] | None, stock: str
) -> None:
    books = _books("refunded", REFUNDED_COOKING, "voided", 0, stock, started, voids)

    books.check_refund_stock()

    assert books.violations
    assert all(v.startswith("o-1") for v in books.violations)
