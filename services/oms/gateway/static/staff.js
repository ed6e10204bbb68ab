// The staff board: every order by status with search, live; refund and void with a reason
// and a confirmation; menu availability and stock levels edited in place.
"use strict";

(() => {
  const { $ } = OMS;
  const ACTIVE = ["pending", "awaiting_payment", "paid", "preparing", "ready"];
  const ACTIONS = {
    refund: {
      when: new Set(["paid", "preparing"]),
      label: "Refund",
      title: (n) => `Refund order ${n}?`,
      text: (total) => `${total} goes back to the customer, and the kitchen stops cooking it.`,
    },
    void: {
      when: new Set(["pending", "awaiting_payment"]),
      label: "Void",
      title: (n) => `Void order ${n}?`,
      text: () => "The order is cancelled before payment: its checkout closes and its stock is released.",
    },
  };
  const filters = $("[data-filters]");
  const rowsBox = $("[data-order-rows]");
  const ordersMessage = $("[data-orders-message]");
  const moreButton = $("[data-more]");
  const dialog = $("[data-action-dialog]");
  const orders = new Map(); // id -> order, in the order shown
  let nextPage = "";
  let loading = 0;
  let pendingAction = null;

  // --- orders ---------------------------------------------------------------------------

  function wanted() {
    const status = filters.status.value;
    return { q: filters.q.value.trim(), statuses: status === "active" ? ACTIVE : status ? [status] : [] };
  }

  function matches(order) {
    const { q, statuses } = wanted();
    const byStatus = !statuses.length || statuses.includes(order.status);
    const byText = !q || order.id.startsWith(q) || order.customer_id.startsWith(q);
    return byStatus && byText;
  }

  function query(pageToken) {
    const { q, statuses } = wanted();
    const params = new URLSearchParams({ page_size: "25" });
    for (const status of statuses) params.append("status", status);
    if (q) params.set("q", q);
    if (pageToken) params.set("page_token", pageToken);
    return `/api/admin/orders?${params}`;
  }

  async function load(more = false) {
    const ticket = ++loading;
    const result = await OMS.api("GET", query(more ? nextPage : ""));
    if (ticket !== loading) return; // a newer search replaced this one
    if (!result.ok) {
      OMS.say(ordersMessage, OMS.errorText(result, "The orders could not be loaded"));
      return;
    }
    OMS.say(ordersMessage, "");
    if (!more) orders.clear();
    for (const order of result.data.orders) orders.set(order.id, order);
    nextPage = result.data.next_page_token || "";
    renderOrders();
  }

  function cell(row, content, className = "", label = "") {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (label) td.dataset.label = label; // shown on a phone, where the table has no header
    td.append(...content);
    row.append(td);
    return td;
  }

  function span(text, className) {
    const element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function orderRow(order) {
    const row = document.createElement("tr");
    row.dataset.order = order.id;
    row.dataset.status = order.status;
    const number = OMS.shortNumber(order.id);
    cell(row, [span(number, "order-number"), span(order.id, "id-text"), span(order.customer_id, "id-text")]);
    const details = [span(OMS.statusLabel(order.status), `pill status-${order.status}`)];
    if (order.cook && ["preparing", "ready"].includes(order.status)) details.push(span(order.cook, "cell-note"));
    if (order.reason) details.push(span(order.reason, "cell-note"));
    cell(row, details);
    cell(row, [order.items.map((i) => `${i.quantity}× ${i.name}`).join(", ")], "items-cell");
    cell(row, [OMS.money(order.total, order.currency)], "num");
    const placed = document.createElement("time");
    placed.dateTime = order.created_at;
    placed.textContent = OMS.timeText(order.created_at);
    cell(row, [placed], "", "Placed");
    const actions = cell(row, [], "actions-cell");
    for (const [name, action] of Object.entries(ACTIONS)) {
      if (!action.when.has(order.status)) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button small danger-outline";
      button.textContent = action.label;
      button.setAttribute("aria-label", `${action.label} order ${number}`);
      button.addEventListener("click", () => ask(name, order, button));
      actions.append(button);
    }
    return row;
  }

  function renderOrders() {
    const focusedId = document.activeElement && document.activeElement.closest("tr[data-order]");
    const focusedLabel = focusedId && document.activeElement.getAttribute("aria-label");
    const sorted = [...orders.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    rowsBox.replaceChildren(...sorted.map(orderRow));
    OMS.show($("[data-orders-empty]"), sorted.length === 0);
    OMS.show(moreButton, Boolean(nextPage));
    if (focusedLabel) {
      const again = rowsBox.querySelector(`[aria-label="${CSS.escape(focusedLabel)}"]`);
      if (again) again.focus();
    }
  }

  function ask(name, order, button) {
    const action = ACTIONS[name];
    const number = OMS.shortNumber(order.id);
    pendingAction = { name, order, button };
    $("[data-action-title]").textContent = action.title(number);
    $("[data-action-text]").textContent = action.text(OMS.money(order.total, order.currency));
    $("[data-action-confirm]").textContent = `${action.label} order ${number}`;
    dialog.querySelector("textarea").value = "";
    dialog.returnValue = "";
    dialog.showModal();
  }

  dialog.addEventListener("close", async () => {
    const asked = pendingAction;
    pendingAction = null;
    if (!asked) return;
    if (dialog.returnValue !== "confirm") {
      asked.button.focus();
      return;
    }
    const reason = dialog.querySelector("textarea").value.trim();
    const url = `/api/admin/orders/${encodeURIComponent(asked.order.id)}/${asked.name}`;
    const result = await OMS.api("POST", url, { reason });
    if (result.ok) {
      OMS.say(ordersMessage, `Order ${OMS.shortNumber(asked.order.id)}: ${OMS.statusLabel(result.data.status).toLowerCase()}.`, "success");
      upsert(result.data);
    } else if (result.status === 409) {
      OMS.say(ordersMessage, OMS.errorText(result, `Order ${OMS.shortNumber(asked.order.id)} changed meanwhile`));
      refreshOrder(asked.order.id);
    } else {
      OMS.say(ordersMessage, OMS.errorText(result, "That did not work"));
    }
  });

  function upsert(order) {
    if (matches(order)) orders.set(order.id, order);
    else orders.delete(order.id);
    renderOrders();
  }

  async function refreshOrder(id) {
    const result = await OMS.api("GET", `/api/admin/orders/${encodeURIComponent(id)}`);
    if (result.ok) upsert(result.data);
  }

  function onUpdate(change) {
    scheduleStock();
    const known = orders.get(change.order_id);
    if (known) {
      if (change.step < known.step) return;
      Object.assign(known, { status: change.status, step: change.step });
      for (const field of ["cook", "reason", "payment_link"]) if (change[field]) known[field] = change[field];
      known.updated_at = change.at;
      upsert(known);
    } else if (change.event === "order.placed" && change.lines) {
      upsert({
        id: change.order_id,
        customer_id: change.customer_id,
        status: change.status,
        step: change.step,
        items: change.lines.map((l) => ({ id: l.item_id, name: l.name, quantity: l.quantity })),
        total: change.total_minor,
        currency: change.currency,
        cook: null,
        reason: null,
        created_at: change.at,
        updated_at: change.at,
      });
    } else {
      const probe = { id: change.order_id, customer_id: change.customer_id, status: change.status };
      if (matches(probe)) refreshOrder(change.order_id);
    }
  }

  let searchTimer = 0;
  filters.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => load(), 250);
  });
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    load();
  });
  moreButton.addEventListener("click", () => load(true));

  // --- menu and stock -------------------------------------------------------------------

  const menuRows = $("[data-menu-rows]");
  const menuMessage = $("[data-menu-message]");
  let stockTimer = 0;

  async function loadMenu() {
    const [items, stock] = await Promise.all([
      OMS.api("GET", "/api/admin/menu/items"),
      OMS.api("GET", "/api/admin/stock"),
    ]);
    if (!items.ok || !stock.ok) {
      OMS.say(menuMessage, OMS.errorText(items.ok ? stock : items, "The menu could not be loaded"));
      return;
    }
    const levels = new Map(stock.data.levels.map((level) => [level.id, level]));
    const sorted = items.data.items.sort((a, b) => a.name.localeCompare(b.name));
    menuRows.replaceChildren(...sorted.map((item) => menuRow(item, levels.get(item.id))));
  }

  function showLevel(row, level) {
    $("[data-reserved]", row).textContent = String(level.reserved);
    $("[data-available]", row).replaceChildren(
      String(level.available),
      ...(level.available <= 0 ? [" ", span("Sold out", "tag tag-muted")] : []),
    );
  }

  function menuRow(item, level = { on_hand: 0, reserved: 0, available: 0 }) {
    const row = document.createElement("tr");
    row.dataset.item = item.id;
    cell(row, [span(item.name, "item-name"), span(item.id, "id-text")]);
    cell(row, [OMS.money(item.price, item.currency)], "num");
    const toggle = document.createElement("label");
    toggle.className = "switch";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = item.offered;
    box.setAttribute("aria-label", `${item.name} on the menu`);
    const state = span(item.offered ? "On" : "Off", "switch-text");
    toggle.append(box, span("", "switch-track"), state);
    box.addEventListener("change", async () => {
      box.disabled = true;
      const url = `/api/admin/menu/items/${encodeURIComponent(item.id)}/offered`;
      const result = await OMS.api("PUT", url, { offered: box.checked });
      box.disabled = false;
      if (result.ok) {
        state.textContent = result.data.offered ? "On" : "Off";
        OMS.say(menuMessage, `${item.name} is ${result.data.offered ? "on" : "off"} the menu.`, "success");
      } else {
        box.checked = !box.checked;
        OMS.say(menuMessage, OMS.errorText(result, `${item.name} could not be changed`));
      }
    });
    cell(row, [toggle]);
    const form = document.createElement("form");
    form.className = "inline-edit";
    const input = document.createElement("input");
    input.type = "number";
    input.min = "0";
    input.max = "1000000";
    input.step = "1";
    input.required = true;
    input.inputMode = "numeric";
    input.value = String(level.on_hand);
    input.dataset.saved = String(level.on_hand);
    input.setAttribute("aria-label", `${item.name} on hand`);
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "button small";
    save.textContent = "Save";
    save.setAttribute("aria-label", `Save ${item.name} on hand`);
    form.append(input, save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      save.disabled = true;
      const url = `/api/admin/stock/${encodeURIComponent(item.id)}`;
      const result = await OMS.api("PUT", url, { on_hand: Number(input.value) });
      save.disabled = false;
      if (result.ok) {
        input.value = input.dataset.saved = String(result.data.on_hand);
        showLevel(row, result.data);
        OMS.say(menuMessage, `${item.name}: ${result.data.on_hand} on hand.`, "success");
      } else {
        OMS.say(menuMessage, OMS.errorText(result, `${item.name}'s stock could not be saved`));
      }
    });
    cell(row, [form]);
    cell(row, [], "num", "Reserved").dataset.reserved = "";
    cell(row, [], "num", "Available").dataset.available = "";
    showLevel(row, level);
    return row;
  }

  // Orders move stock: refresh the levels soon after, leaving any number being edited alone.
  function scheduleStock() {
    clearTimeout(stockTimer);
    stockTimer = setTimeout(async () => {
      const stock = await OMS.api("GET", "/api/admin/stock");
      if (!stock.ok) return;
      for (const level of stock.data.levels) {
        const row = menuRows.querySelector(`tr[data-item="${CSS.escape(level.id)}"]`);
        if (!row) continue;
        showLevel(row, level);
        const input = $("input[type=number]", row);
        if (document.activeElement !== input && input.value === input.dataset.saved) {
          input.value = input.dataset.saved = String(level.on_hand);
        }
      }
    }, 1000);
  }

  // The stream's first snapshot finds the board just loaded; a later one means it
  // reconnected, and may have missed changes meanwhile: load again what it shows.
  let connectedBefore = false;
  function onSnapshot() {
    if (connectedBefore) {
      load();
      scheduleStock();
    }
    connectedBefore = true;
  }

  load();
  loadMenu();
  OMS.staffLive("/staff", {
    onSnapshot,
    onUpdate,
    lost: "Statuses may be out of date until the board is back online.",
  });
})();
