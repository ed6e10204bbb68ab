// The kitchen display: every paid order is a ticket, queued -> cooking -> ready, live from
// the staff event stream (a snapshot, then updates). Ready tickets are bumped when picked up.
"use strict";

(() => {
  const { $ } = OMS;
  const board = $("[data-kds]");
  const warnSeconds = Number(board.dataset.warnSeconds);
  const lateSeconds = Number(board.dataset.lateSeconds);
  const template = $("#ticket");
  const announce = $("[data-announce]");
  const COLUMN = { paid: "queued", preparing: "cooking", ready: "ready" };
  const tickets = new Map(); // order id -> ticket
  const fetching = new Set();

  function column(name) {
    return $(`[data-column=${name}]`, board);
  }

  function paidAt(order) {
    const paid = order.history.find((change) => OMS.RANK[change.status] >= OMS.RANK.paid);
    return Date.parse(paid ? paid.at : order.updated_at);
  }

  function fromOrder(order) {
    return {
      id: order.id,
      status: order.status,
      step: order.step,
      cook: order.cook || "",
      lines: order.items.map((item) => ({ name: item.name, quantity: item.quantity })),
      paidAt: paidAt(order),
    };
  }

  function ageText(seconds) {
    const minutes = Math.floor(seconds / 60);
    return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function tick() {
    const now = Date.now();
    for (const ticket of tickets.values()) {
      const seconds = Math.max(0, Math.floor((now - ticket.paidAt) / 1000));
      const age = seconds >= lateSeconds ? "late" : seconds >= warnSeconds ? "warn" : "ok";
      const element = ticket.element;
      element.dataset.age = age;
      $("[data-age]", element).textContent = ageText(seconds);
      $("[data-age]", element).setAttribute("aria-label", `${Math.floor(seconds / 60)} min ${seconds % 60} s since paid`);
      $("[data-flag]", element).textContent = { ok: "", warn: "Due soon", late: "Late" }[age];
    }
  }

  function build(ticket) {
    const element = template.content.firstElementChild.cloneNode(true);
    element.dataset.order = ticket.id;
    const number = OMS.shortNumber(ticket.id);
    $("article", element).setAttribute("aria-label", `Order ${number}`);
    $("[data-number]", element).textContent = number;
    $("[data-lines]", element).replaceChildren(
      ...ticket.lines.map((line) => {
        const item = document.createElement("li");
        const quantity = document.createElement("span");
        quantity.className = "qty";
        quantity.textContent = `${line.quantity}×`;
        item.append(quantity, ` ${line.name}`);
        return item;
      }),
    );
    const bump = $("[data-bump]", element);
    bump.setAttribute("aria-label", `Bump order ${number}: picked up`);
    bump.addEventListener("click", () => pickUp(ticket));
    ticket.element = element;
    return element;
  }

  function place(ticket) {
    const element = ticket.element || build(ticket);
    element.dataset.status = ticket.status;
    const cook = $("[data-cook]", element);
    cook.textContent = ticket.cook ? `Cook: ${ticket.cook}` : "";
    cook.hidden = !ticket.cook || ticket.status === "paid";
    $("[data-bump]", element).hidden = ticket.status !== "ready";
    const list = $("[data-tickets]", column(COLUMN[ticket.status]));
    // Oldest first: the one waiting longest is the next to cook or to hand over.
    const after = [...list.children].find((other) => tickets.get(other.dataset.order).paidAt > ticket.paidAt);
    if (element.parentElement !== list || (after && element.nextElementSibling !== after)) {
      const focused = element.contains(document.activeElement);
      list.insertBefore(element, after || null);
      if (focused) element.focus();
    }
    counts();
  }

  function remove(id) {
    const ticket = tickets.get(id);
    if (!ticket) return;
    tickets.delete(id);
    const element = ticket.element;
    const focused = element.contains(document.activeElement);
    const next = element.nextElementSibling || element.previousElementSibling;
    element.remove();
    if (focused) {
      const target = next ? $("[data-bump]:not([hidden])", next) || next : $("h2", column("ready"));
      target.setAttribute("tabindex", target.getAttribute("tabindex") || "-1");
      target.focus();
    }
    counts();
  }

  function counts() {
    for (const name of Object.values(COLUMN)) {
      const section = column(name);
      const count = $("[data-tickets]", section).children.length;
      $("[data-count]", section).textContent = String(count);
      $("[data-empty]", section).hidden = count > 0;
    }
  }

  function upsert(ticket) {
    const known = tickets.get(ticket.id);
    if (known) {
      if (ticket.step < known.step) return;
      Object.assign(known, { status: ticket.status, step: ticket.step, cook: ticket.cook || known.cook });
      place(known);
    } else {
      tickets.set(ticket.id, ticket);
      place(ticket);
      announce.textContent = `New ticket ${OMS.shortNumber(ticket.id)}`;
    }
    tick();
  }

  function snapshot(body) {
    const shown = new Set();
    for (const order of body.orders) {
      if (!(order.status in COLUMN)) continue;
      shown.add(order.id);
      upsert(fromOrder(order));
    }
    for (const id of [...tickets.keys()]) if (!shown.has(id)) remove(id);
  }

  async function fetchTicket(id) {
    if (fetching.has(id)) return;
    fetching.add(id);
    const result = await OMS.api("GET", `/api/admin/orders/${encodeURIComponent(id)}`);
    fetching.delete(id);
    if (result.ok && result.data.status in COLUMN) upsert(fromOrder(result.data));
  }

  function update(change) {
    const id = change.order_id;
    const known = tickets.get(id);
    if (!(change.status in COLUMN)) {
      if (known && change.step >= known.step) remove(id);
      return;
    }
    if (known) {
      upsert({ id, status: change.status, step: change.step, cook: change.cook || "" });
      if (change.status === "ready") announce.textContent = `Order ${OMS.shortNumber(id)} is ready`;
    } else if (change.lines) {
      upsert({
        id,
        status: change.status,
        step: change.step,
        cook: change.cook || "",
        lines: change.lines.map((line) => ({ name: line.name, quantity: line.quantity })),
        paidAt: Date.parse(change.at),
      });
    } else {
      fetchTicket(id); // paid before this screen saw it: read it once
    }
  }

  async function pickUp(ticket) {
    const bump = $("[data-bump]", ticket.element);
    bump.disabled = true;
    bump.textContent = "Bumping…";
    const result = await OMS.api("POST", `/api/admin/orders/${encodeURIComponent(ticket.id)}/pick-up`);
    if (result.ok || result.status === 404 || result.status === 409) {
      remove(ticket.id); // picked up (here, or already elsewhere)
      return;
    }
    bump.disabled = false;
    bump.textContent = "Bump failed: try again";
  }

  OMS.staffLive("/kitchen", {
    onSnapshot: snapshot,
    onUpdate: update,
    lost: "New tickets show up here once the display is back online.",
  });
  counts();
  setInterval(tick, 1000);
})();
