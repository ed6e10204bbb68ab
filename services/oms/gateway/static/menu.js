// The menu: a cart kept in localStorage, and a checkout that places the order with the
// customer's session and follows the order's events until its payment link is known.
"use strict";

(() => {
  const CART_KEY = "oms.cart.v1";
  const ORDERS_KEY = "oms.orders.v1";
  const SESSION_KEY = "oms.session.expires";
  const MAX_QUANTITY = 100;
  const MAX_LINES = 50;
  const menu = new Map(JSON.parse(document.getElementById("menu-data").textContent).map((i) => [i.id, i]));
  const { $ } = OMS;
  const cartBox = $("#cart");
  const linesBox = $("[data-cart-lines]");
  const lineTemplate = $("#cart-line");
  const checkoutButton = $("[data-checkout]");
  const message = $("[data-checkout-message]");
  const progress = $("[data-checkout-progress]");
  let cart = loadCart();
  let idempotencyKey = "";
  let busy = false;
  let coolingDown = false;
  let cartInView = false;

  function loadCart() {
    const saved = OMS.stored.get(CART_KEY, {});
    const items = saved && typeof saved.items === "object" && saved.items ? saved.items : {};
    return Object.fromEntries(
      Object.entries(items).filter(([, q]) => Number.isInteger(q) && q > 0 && q <= MAX_QUANTITY),
    );
  }

  function saveCart() {
    idempotencyKey = ""; // another cart is another order
    OMS.stored.set(CART_KEY, { items: cart });
  }

  function orderable(id) {
    const item = menu.get(id);
    return Boolean(item && !item.sold_out);
  }

  function setQuantity(id, quantity) {
    if (quantity <= 0) {
      delete cart[id];
    } else if (cart[id] || Object.keys(cart).length < MAX_LINES) {
      cart[id] = Math.min(quantity, MAX_QUANTITY);
    }
    saveCart();
    render();
  }

  function renderCards() {
    for (const card of document.querySelectorAll(".card[data-item]")) {
      const item = menu.get(card.dataset.item);
      const soldOut = !item || item.sold_out;
      const add = $("[data-add]", card);
      card.classList.toggle("sold-out", soldOut);
      add.disabled = soldOut;
      add.setAttribute("aria-disabled", String(soldOut));
      add.textContent = soldOut ? "Unavailable" : "Add";
      const tags = $("[data-tags]", card);
      const quantity = cart[card.dataset.item] || 0;
      const shown = [];
      if (soldOut) shown.push(["tag tag-muted", "Sold out", "soldOut"]);
      else if (quantity) shown.push(["tag", `${quantity} in your order`, "inCart"]);
      tags.replaceChildren(
        ...shown.map(([className, text, key]) => {
          const tag = document.createElement("span");
          tag.className = className;
          tag.dataset[key] = "";
          tag.textContent = text;
          return tag;
        }),
      );
    }
  }

  function renderLine(id, quantity) {
    const item = menu.get(id);
    const line = lineTemplate.content.firstElementChild.cloneNode(true);
    const name = item ? item.name : id;
    line.dataset.item = id;
    $("[data-name]", line).textContent = name;
    $("[data-qty]", line).textContent = String(quantity);
    $("[data-qty]", line).setAttribute("aria-label", `${name}: ${quantity}`);
    $("[role=group]", line).setAttribute("aria-label", `Quantity of ${name}`);
    const minus = $("[data-minus]", line);
    const plus = $("[data-plus]", line);
    if (orderable(id)) {
      minus.setAttribute("aria-label", quantity === 1 ? `Remove ${name}` : `One less ${name}`);
      plus.setAttribute("aria-label", `One more ${name}`);
      plus.disabled = quantity >= MAX_QUANTITY;
      $("[data-line-total]", line).textContent = OMS.money(item.price * quantity, item.currency);
    } else {
      line.classList.add("unavailable");
      const note = $("[data-note]", line);
      note.textContent = item ? "Sold out: remove it to check out" : "No longer on the menu";
      note.hidden = false;
      minus.setAttribute("aria-label", `Remove ${name}`);
      plus.hidden = true;
    }
    minus.addEventListener("click", () => {
      setQuantity(id, orderable(id) ? quantity - 1 : 0);
      const same = $(`.cart-line[data-item="${CSS.escape(id)}"] [data-minus]`, linesBox);
      (same || cartBox).focus();
    });
    plus.addEventListener("click", () => {
      setQuantity(id, quantity + 1);
      $(`.cart-line[data-item="${CSS.escape(id)}"] [data-plus]`, linesBox).focus();
    });
    return line;
  }

  function render() {
    renderCards();
    linesBox.replaceChildren(...Object.entries(cart).map(([id, q]) => renderLine(id, q)));
    const lines = Object.entries(cart).filter(([id]) => orderable(id));
    const count = lines.reduce((sum, [, q]) => sum + q, 0);
    const currency = lines.length ? menu.get(lines[0][0]).currency : "EUR";
    const total = lines.reduce((sum, [id, q]) => sum + menu.get(id).price * q, 0);
    const blocked = Object.keys(cart).some((id) => !orderable(id));
    const empty = Object.keys(cart).length === 0;
    OMS.show($("[data-cart-empty]"), empty);
    OMS.show($("[data-cart-total]"), count > 0);
    $("[data-cart-sum]").textContent = OMS.money(total, currency);
    checkoutButton.disabled = busy || coolingDown || count === 0 || blocked;
    checkoutButton.textContent = count ? `Checkout · ${OMS.money(total, currency)}` : "Checkout";
    const badge = $("[data-cart-count]");
    badge.textContent = String(count);
    OMS.show(badge, count > 0);
    OMS.show($("[data-cart-bar]"), count > 0 && !busy && !cartInView);
    $("[data-bar-count]").textContent = count === 1 ? "1 item" : `${count} items`;
    $("[data-bar-sum]").textContent = OMS.money(total, currency);
  }

  // The session's cookie is HTTP-only: remember when it expires, to ask for one only when needed.
  async function ensureSession(force) {
    const expires = Number(OMS.stored.get(SESSION_KEY, 0));
    if (!force && expires > Date.now() + 60_000) return true;
    const session = await OMS.api("POST", "/api/session");
    if (session.ok) OMS.stored.set(SESSION_KEY, Date.parse(session.data.expires_at));
    return session.ok;
  }

  function placeOrder(lines) {
    const body = { items: lines.map(([id, quantity]) => ({ id, quantity })) };
    return OMS.api("POST", "/api/orders", body, { "Idempotency-Key": idempotencyKey });
  }

  async function refreshMenu() {
    const result = await OMS.api("GET", "/api/menu");
    if (!result.ok) return;
    const fresh = new Map(result.data.items.map((i) => [i.id, i]));
    for (const [id, item] of menu) {
      const now = fresh.get(id);
      item.sold_out = !now || now.sold_out;
    }
  }

  async function explainShortage(result) {
    const shortages = (result.data && result.data.shortages) || [];
    await refreshMenu();
    const parts = [];
    for (const { id, available } of shortages) {
      const item = menu.get(id);
      const name = item ? item.name : id;
      parts.push(available > 0 ? `${name} (only ${available} left)` : `${name} (sold out)`);
      if (available > 0) {
        cart[id] = Math.min(cart[id] || 0, available);
      } else {
        delete cart[id];
        if (item) item.sold_out = true; // Stock just said so; the menu may lag a moment
      }
    }
    saveCart();
    return parts.length
      ? `Sorry, we just ran short of ${parts.join(", ")}. We updated your order: please check it and try again.`
      : OMS.errorText(result, "Sorry, part of your order is not available any more.");
  }

  function coolDown(seconds) {
    coolingDown = true;
    setTimeout(() => {
      coolingDown = false;
      render();
    }, seconds * 1000);
  }

  async function checkout() {
    if (busy) return;
    const lines = Object.entries(cart).filter(([id]) => orderable(id));
    if (!lines.length) return;
    busy = true;
    idempotencyKey = idempotencyKey || OMS.randomKey();
    OMS.say(message, "");
    progress.textContent = "Placing your order…";
    progress.hidden = false;
    render();
    await ensureSession(false);
    let result = await placeOrder(lines);
    if (result.status === 401 && (await ensureSession(true))) {
      result = await placeOrder(lines); // the session was gone (a new secret, a cleared cookie)
    }
    if (result.ok) {
      followToPayment(result.data);
      return;
    }
    busy = false;
    progress.hidden = true;
    let text;
    if (result.status === 409) {
      text = await explainShortage(result);
    } else if (result.status === 429) {
      const seconds = Math.max(1, result.retryAfter || 5);
      text = `You are ordering faster than we can keep up. Try again in ${seconds} s.`;
      coolDown(seconds);
    } else if (result.status === 422) {
      await refreshMenu();
      text = OMS.errorText(result, "Part of your order cannot be placed");
    } else {
      text = OMS.errorText(result, "Your order could not be placed");
    }
    OMS.say(message, text);
    render();
  }

  function remember(order) {
    const saved = OMS.stored.get(ORDERS_KEY, []);
    const orders = (Array.isArray(saved) ? saved : []).filter((o) => o && o.id !== order.id);
    orders.unshift({ id: order.id, url: order.tracking_url, at: order.created_at });
    OMS.stored.set(ORDERS_KEY, orders.slice(0, 5));
  }

  function followToPayment(order) {
    remember(order);
    cart = {};
    saveCart();
    render();
    checkoutButton.hidden = true;
    const number = OMS.shortNumber(order.id);
    const link = document.createElement("a");
    link.href = order.tracking_url;
    link.textContent = "follow your order";
    progress.replaceChildren(
      document.createTextNode(`Order ${number} is placed. Opening the payment page… You can also `),
      link,
      document.createTextNode("."),
    );
    const go = (url) => window.location.assign(url);
    if (order.payment_link) {
      go(order.payment_link);
      return;
    }
    const token = new URL(order.tracking_url, window.location.href).searchParams.get("t");
    const stream = OMS.live(`/api/orders/${encodeURIComponent(order.id)}/events?t=${encodeURIComponent(token)}`, {
      onSnapshot: (snapshot) => next(snapshot),
      onUpdate: (update) => next(update),
    });
    function next(state) {
      if (state.payment_link) {
        stream.close();
        go(state.payment_link);
      } else if (OMS.RANK[state.status] >= OMS.RANK.paid) {
        stream.close();
        go(order.tracking_url); // it ended (or was paid) without a link: the tracker says why
      }
    }
  }

  for (const card of document.querySelectorAll(".card[data-item]")) {
    $("[data-add]", card).addEventListener("click", () => {
      const id = card.dataset.item;
      if (!orderable(id)) return;
      setQuantity(id, (cart[id] || 0) + 1);
    });
  }
  checkoutButton.addEventListener("click", checkout);
  // On a phone the order bar leads to the cart; once the cart is on screen it steps aside.
  new IntersectionObserver((entries) => {
    cartInView = entries.some((entry) => entry.isIntersecting);
    render();
  }).observe(cartBox);
  window.addEventListener("storage", (event) => {
    if (event.key === CART_KEY) {
      cart = loadCart();
      render();
    }
  });
  const recent = OMS.stored.get(ORDERS_KEY, [])[0];
  if (recent && recent.id && recent.url && Date.now() - Date.parse(recent.at) < 12 * 3600_000) {
    $("[data-recent-number]").textContent = OMS.shortNumber(recent.id);
    $("[data-recent-link]").href = recent.url;
    $("[data-recent]").hidden = false;
  }
  render();
})();
