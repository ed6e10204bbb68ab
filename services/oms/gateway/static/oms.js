// OMS screens: what every page shares. Plain browser JavaScript, no build step.
// Text always goes in with textContent (never innerHTML), so nothing from the API is markup.
"use strict";

const OMS = (() => {
  const formats = new Map();
  const STATUS_LABELS = {
    pending: "Placed",
    awaiting_payment: "Awaiting payment",
    paid: "Paid",
    preparing: "Preparing",
    ready: "Ready",
    picked_up: "Picked up",
    cancelled: "Cancelled",
    expired: "Expired",
    refunded: "Refunded",
  };
  const RANK = {
    pending: 1, awaiting_payment: 2, paid: 3, preparing: 4, ready: 5,
    picked_up: 6, cancelled: 7, expired: 7, refunded: 7,
  };

  // 950 EUR is "€9.50": the currency's own number of decimals, as the server writes it.
  function money(minor, currency) {
    let format = formats.get(currency);
    if (!format) {
      format = new Intl.NumberFormat("en", { style: "currency", currency });
      formats.set(currency, format);
    }
    return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
  }

  // The first element `selector` matches, in `root` (the page by default).
  function $(selector, root = document) {
    return root.querySelector(selector);
  }

  function shortNumber(orderId) {
    return "#" + orderId.replace(/-/g, "").slice(0, 4).toUpperCase();
  }

  function statusLabel(status) {
    return STATUS_LABELS[status] || status;
  }

  function timeText(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // A random key for Idempotency-Key (crypto.randomUUID needs HTTPS; this does not).
  function randomKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // fetch with JSON both ways; never throws: {ok, status, data, retryAfter}.
  async function api(method, url, body, headers = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      return { ok: false, status: 0, data: null, retryAfter: 0 };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    return { ok: response.ok, status: response.status, data, retryAfter };
  }

  function errorText(result, fallback) {
    if (result.status === 0) return "We could not reach the restaurant. Check your connection and try again.";
    if (result.status === 503 || result.status === 502) return "We are busy right now. Please try again in a few seconds.";
    const message = result.data && result.data.error && result.data.error.message;
    return message ? `${fallback} (${message})` : fallback;
  }

  // A live stream: a snapshot, then updates. When a stream drops, EventSource reconnects by
  // itself (with Last-Event-ID); when the server answers a reconnect with an error (a 503
  // while a service restarts) EventSource gives up, so a new one opens later and later
  // (1 s, 2 s, ... 30 s), starting from a fresh snapshot. Until a stream is open again the
  // page says so: its indicator, and a banner with `lost` (what may be out of date).
  // `stillAllowed` (optional) is asked after a refusal: false stops trying.
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 30000;

  function live(url, { onSnapshot, onUpdate, lost, stillAllowed }) {
    const indicators = document.querySelectorAll("[data-live]");
    const banner = $("[data-live-alert]");
    let source = null;
    let retry = 0;
    let delay = RETRY_FIRST_MS;
    let connected = false;
    const show = (state, text) => {
      for (const indicator of indicators) {
        indicator.dataset.state = state;
        indicator.querySelector("[data-live-text]").textContent = text;
      }
      const cut = state === "reconnecting" && connected; // never before the first stream
      if (banner) {
        banner.textContent = cut ? `Connection lost: reconnecting… ${lost || ""}`.trim() : "";
        banner.hidden = !cut;
      }
    };
    const connect = () => {
      const opened = new EventSource(url);
      source = opened;
      opened.addEventListener("open", () => {
        delay = RETRY_FIRST_MS;
        connected = true;
        show("live", "Live");
      });
      opened.addEventListener("error", async () => {
        show("reconnecting", "Reconnecting…");
        if (opened.readyState !== EventSource.CLOSED) return; // EventSource retries itself
        if (stillAllowed && !(await stillAllowed())) return;
        if (source !== opened) return; // closed by the page meanwhile
        retry = setTimeout(connect, delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      });
      opened.addEventListener("snapshot", (event) => onSnapshot(JSON.parse(event.data)));
      opened.addEventListener("order", (event) => onUpdate(JSON.parse(event.data)));
    };
    connect();
    return {
      close(text = "Up to date") {
        clearTimeout(retry);
        if (source) source.close();
        source = null;
        connected = false;
        show("done", text);
      },
    };
  }

  // The staff screens' stream; signed out (the cookie expired) means back to the sign-in.
  function staffLive(screen, handlers) {
    live("/api/admin/events", {
      ...handlers,
      stillAllowed: async () => {
        const check = await api("GET", "/api/admin/orders?page_size=1");
        if (check.status !== 401 && check.status !== 403) return true;
        window.location.assign(`/staff/login?next=${screen}`);
        return false;
      },
    });
  }

  // localStorage, which a private window may refuse: then nothing is remembered.
  const stored = {
    get(key, fallback) {
      try {
        const value = localStorage.getItem(key);
        return value === null ? fallback : JSON.parse(value);
      } catch (error) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(key, JSON.stringify(value));
      } catch (error) {
        // Not remembered; the page still works.
      }
    },
  };

  function show(element, visible) {
    element.hidden = !visible;
  }

  function say(element, text, kind = "") {
    element.textContent = text;
    element.className = kind ? `alert ${kind}` : "alert";
    element.hidden = !text;
  }

  return {
    $, RANK, money, shortNumber, statusLabel, timeText, randomKey, api, errorText, live, staffLive, stored, show, say,
  };
})();
