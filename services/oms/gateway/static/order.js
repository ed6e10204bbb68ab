// The order tracker: the server renders the order; its event stream moves the timeline on,
// so the page never reloads. A later step never goes back (`step` only grows).
"use strict";

(() => {
  const data = JSON.parse(document.getElementById("order-data").textContent);
  const { $ } = OMS;
  const section = $("[data-tracker]");
  const headline = $("[data-headline]");
  const payButton = $("[data-pay]");
  const cancelButton = $("[data-cancel]");
  const message = $("[data-message]");
  const dialog = $("[data-cancel-dialog]");
  const TERMINAL = new Set(["picked_up", "cancelled", "expired", "refunded"]);
  const UNPAID = new Set(["pending", "awaiting_payment"]);
  const HEADLINES = {
    pending: "We are confirming your order…",
    awaiting_payment: "Waiting for your payment",
    paid: "Paid: your order is in the kitchen's queue",
    preparing: "Your order is being prepared",
    ready: "Ready! Show this number at the counter",
    picked_up: "Picked up. Enjoy your meal!",
    cancelled: "This order was cancelled",
    expired: "This order expired before it was paid",
    refunded: "This order was refunded",
  };
  let order = data.order;
  let paidReturn = data.paid_return;
  let stream = null;

  function reachedAt() {
    const at = {};
    for (const change of order.history) {
      if (!(change.status in at)) at[change.status] = change.at;
    }
    return at;
  }

  function render() {
    const at = reachedAt();
    const rank = OMS.RANK[order.status];
    const ended = order.status in data.endings;
    if (!UNPAID.has(order.status)) paidReturn = false;
    section.dataset.status = order.status;
    for (const step of document.querySelectorAll("[data-step]:not([data-step=ending])")) {
      const status = step.dataset.step;
      let state;
      if (status === order.status) state = "current";
      else if (at[status] || (!ended && OMS.RANK[status] < rank)) state = "done";
      else state = ended ? "skipped" : "todo";
      step.className = `step ${state}`;
      $("[data-state]", step).textContent =
        { current: " (now)", done: " (done)", skipped: " (skipped)", todo: " (next)" }[state];
      const time = $("[data-time]", step);
      time.textContent = at[status] ? OMS.timeText(at[status]) : "";
      if (at[status]) time.dateTime = at[status];
    }
    const ending = $("[data-step=ending]");
    ending.hidden = !ended;
    if (ended) {
      ending.className = `step ending current ${order.status}`;
      $("[data-ending-label]", ending).textContent = data.endings[order.status];
      $("[data-reason]", ending).textContent = order.reason || "";
      $("[data-time]", ending).textContent = at[order.status] ? OMS.timeText(at[order.status]) : "";
    }
    let text = HEADLINES[order.status] || OMS.statusLabel(order.status);
    if (paidReturn) text = "Payment received: confirming it with the kitchen…";
    if (ended && order.reason) text = `${text}: ${order.reason}`;
    if (order.status === "refunded") text += ". The money goes back to your card.";
    headline.textContent = text;
    const payable = order.status === "awaiting_payment" && order.payment_link && !paidReturn;
    payButton.hidden = !payable;
    if (payable) payButton.href = order.payment_link;
    cancelButton.hidden = !UNPAID.has(order.status) || paidReturn;
    const banner = $("[data-paid-banner]");
    if (banner) banner.hidden = ended;
    document.title = `${OMS.statusLabel(order.status)} · Order ${OMS.shortNumber(order.id)}`;
    if (TERMINAL.has(order.status) && stream) {
      stream.close("Final");
      stream = null;
    }
  }

  function apply(update) {
    if (update.step < order.step) return; // an older decision arriving late
    order.status = update.status;
    order.step = update.step;
    for (const field of ["payment_link", "cook", "reason"]) {
      if (update[field]) order[field] = update[field];
    }
    if (!order.history.some((change) => change.status === update.status)) {
      order.history.push({ status: update.status, at: update.at });
    }
    render();
  }

  async function cancel() {
    cancelButton.disabled = true;
    const result = await OMS.api("POST", `/api/orders/${encodeURIComponent(order.id)}/cancel`);
    cancelButton.disabled = false;
    if (result.ok) {
      order = result.data;
      OMS.say(message, "");
      render();
      return;
    }
    let text;
    if (result.status === 409) text = "It is too late to cancel: your payment has gone through.";
    else if (result.status === 401 || result.status === 404)
      text = "To cancel, open this page on the device you ordered from.";
    else text = OMS.errorText(result, "Your order could not be cancelled");
    OMS.say(message, text);
  }

  cancelButton.addEventListener("click", () => {
    dialog.returnValue = "";
    dialog.showModal();
  });
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "cancel") cancel();
    else cancelButton.focus();
  });

  render();
  if (!TERMINAL.has(order.status)) {
    stream = OMS.live(data.events, {
      onSnapshot: (snapshot) => {
        if (snapshot.step >= order.step) order = snapshot;
        render();
      },
      onUpdate: apply,
      lost: "Your order's progress shows here again once we are back online.",
    });
  } else {
    $("[data-live]").hidden = true;
  }
})();
