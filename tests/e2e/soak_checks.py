"""The soak's invariants over what every service says at the end, each counted and printed.

`Books` gathers the evidence: every order (Order, through the staff API), its payment
(Payment), its ticket (the kitchen), the money at Stripe (the emulation's ledger), what the
kitchen announced (the event tap) and Stock's own records (its database, read-only).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devtools.peek import StockBook

Json = dict[str, Any]
SERVED = {"paid", "preparing", "ready", "picked_up"}
UNPAID = {"pending", "awaiting_payment"}
ENDED = {"cancelled", "expired", "refunded"}
TERMINAL = ENDED | {"picked_up"}
# What an order's reservation must be in, by the order's status, once the platform is quiet.
RESERVATION = {
    "pending": {"held"},
    "awaiting_payment": {"held"},
    "paid": {"committed"},
    "preparing": {"committed"},
    "ready": {"committed"},
    "picked_up": {"committed"},
    "cancelled": {"released"},
    "expired": {"released"},
    "refunded": {"returned", "written_off"},
}
CONSUMED = frozenset({"committed", "written_off"})
HELD = frozenset({"held"})
IN_PROGRESS = frozenset({"reserving", "releasing", "committing", "returning"})


@dataclass
class Books:
    orders: dict[str, Json]
    payments: dict[str, str | None]  # order -> Payment's status
    tickets: dict[str, str | None]  # order -> ticket status
    stripe: dict[str, tuple[int, int]]  # order -> (captured, refunded) at Stripe
    cooked_reported: Counter[str]  # order -> kitchen.ticket_ready events seen
    started_reported: Counter[str]  # order -> kitchen.ticket_started events seen
    void_reports: dict[str, list[bool]]  # order -> food_used of each kitchen.ticket_voided
    stock: StockBook
    stock_at_start: dict[str, int]
    parked: int
    deadlines: dict[str, timedelta]  # status -> how long an order may wait in it
    now: datetime
    counts: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.violations.append(message)

    def check_money(self) -> None:
        for order_id, order in self.orders.items():
            captured, refunded = self.stripe.get(order_id, (0, 0))
            kept = captured - refunded
            served = order["status"] in SERVED
            self.counts["money kept (served)" if kept else "no money kept"] += 1
            if bool(kept) != served:
                self.fail(f"{order_id} is {order['status']} with {kept} kept at Stripe")
            if kept not in (0, order["total"]):
                self.fail(f"{order_id} keeps {kept} of {order['total']}")
            payment = self.payments.get(order_id)
            if (payment == "captured") != served:
                self.fail(f"{order_id} is {order['status']}, its payment {payment}")
            if refunded:
                self.counts["refunded at Stripe"] += 1
                if not order["refunded"] or payment != "refunded":
                    self.fail(f"{order_id} refunded at Stripe; order/payment say otherwise")

    def check_kitchen(self) -> None:
        """Cooked => confirmed paid; no ticket of an ended order reaches ready.

        The kitchen may report a ticket ready after Order refunded its order: the refund
        races the end of cooking (the cook finishes before the void reaches the kitchen).
        That food is never handed out, and this is what is checked: Order never makes the
        order ready (so nobody can pick it up) and the void that follows leaves the ticket
        voided. Any other ready report for an ended order is a violation.
        """
        for order_id, order in self.orders.items():
            status = order["status"]
            history = [change["status"] for change in order["history"]]
            ticket = self.tickets.get(order_id)
            reported = self.cooked_reported[order_id] > 0
            self.counts[f"ticket {ticket or 'none'}"] += 1
            if ticket == "cooking":
                self.fail(f"{order_id} is still on the stove on a quiet platform")
            if (reported or ticket == "cooked") and "paid" not in history:
                self.fail(f"{order_id} cooked, but never confirmed paid ({history})")
            if status not in ENDED:
                if ticket == "cooked" and status not in ("ready", "picked_up"):
                    self.fail(f"{order_id} cooked, but it is {status} ({history})")
                if ticket == "voided" or (reported and ticket != "cooked"):
                    self.fail(f"{order_id} is {status}, its ticket {ticket}")
                continue
            if "ready" in history or "picked_up" in history:
                self.fail(f"{order_id} is {status}, yet Order made it ready ({history})")
            if ticket not in (None, "voided"):
                self.fail(f"{order_id} is {status}, its ticket {ticket}")
            if reported:
                if status != "refunded" or ticket != "voided":
                    self.fail(f"{order_id} was cooked though {status}, its ticket {ticket}")
                    continue
                stock = self.stock.reservations.get(order_id, {}).get("state")
                self.counts[f"cooked as it was refunded, voided, stock {stock}"] += 1

    def check_refund_stock(self) -> None:
        """A refund writes the stock off exactly when a cook had started the order (the food
        is used), else returns it, whatever Order knew when it refunded: the kitchen's void
        says which, once, and Order's stock decision follows it."""
        for order_id, order in self.orders.items():
            if order["status"] != "refunded":
                continue
            started = self.started_reported[order_id] > 0
            reports = self.void_reports.get(order_id, [])
            stock = self.stock.reservations.get(order_id, {}).get("state")
            self.counts[f"refunded {'after' if started else 'before'} a cook started, {stock}"] += 1
            if reports != [started]:
                self.fail(f"{order_id}: a cook started: {started}, the void reported {reports}")
            wanted = "written_off" if started else "returned"
            if stock != wanted:
                self.fail(f"{order_id}: refunded, a cook started: {started}, its stock {stock}")

    def check_stock(self) -> None:
        book = self.stock
        for item_id, start in self.stock_at_start.items():
            level = book.items[item_id]
            consumed, held = book.held(item_id, CONSUMED), book.held(item_id, HELD)
            self.counts["units sold"] += consumed
            self.counts["units held"] += held
            if start != level["on_hand"] + consumed:
                self.fail(f"{item_id}: {start} at start != {level} + {consumed} consumed")
            if level["on_hand"] - level["available"] != held:
                self.fail(f"{item_id}: {level} but {held} held by reservations")
        for order_id, reservation in book.reservations.items():
            state = reservation["state"]
            if state in IN_PROGRESS:
                self.fail(f"reservation of {order_id} left {state}")
            order = self.orders.get(order_id)
            if order is None:
                self.counts["reservations without an order"] += 1
                if state not in ("released", "rejected"):
                    self.fail(f"reservation of {order_id} is {state} and has no order")
            elif state not in RESERVATION[order["status"]]:
                self.fail(f"{order_id} is {order['status']}, its reservation {state}")

    def check_waiting(self) -> None:
        for order_id, order in self.orders.items():
            status = order["status"]
            self.counts[f"orders {status}"] += 1
            if status in TERMINAL:
                continue
            entered = datetime.fromisoformat(order["history"][-1]["at"])
            if self.now > entered + self.deadlines[status]:
                self.fail(f"{order_id} waits {status} past its deadline")

    def check_parking(self) -> None:
        self.counts["parked messages"] = self.parked
        if self.parked:
            self.fail(f"{self.parked} messages are parked")

    def check_all(self) -> list[str]:
        self.check_money()
        self.check_kitchen()
        self.check_refund_stock()
        self.check_stock()
        self.check_waiting()
        self.check_parking()
        return self.violations
