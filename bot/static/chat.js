"use strict";
/* chatshop web chat — vanilla JS, no dependencies.
 * All server-provided text is rendered with textContent (never innerHTML). */
(function () {
  // The session is an HttpOnly cookie the server issues: this script never sees or picks it.
  const API = "/chat/api/messages", SESSION_API = "/chat/api/session", POLL_MS = 1500;

  const $ = (id) => document.getElementById(id);
  const [scroller, list, pendingBox, typing, conn] = ["scroller", "messages", "pending", "typing", "conn"].map($);
  const [form, input, sendBtn] = ["chat-form", "chat-input", "chat-send"].map($);
  const [errorBox, errorText, retryBtn] = ["chat-error", "chat-error-text", "chat-retry"].map($);

  const seen = new Set(); // message ids already handled
  let lastId = 0;
  let loaded = false;     // initial history fetched?
  let polling = false;
  let inFlight = 0;
  let failed = [];        // POST jobs waiting for a manual retry
  let queue = Promise.resolve(); // POSTs are sent one after another, in order
  let stick = true;       // keep the view pinned to the newest message
  let sentCount = 0;      // POSTs started by this page

  function randomId() {
    if (window.crypto && crypto.getRandomValues) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // ---- helpers ------------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null && text !== "") node.textContent = String(text);
    return node;
  }

  // Only allow http(s) and same-origin relative URLs (blocks javascript: etc.).
  function safeUrl(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      const u = new URL(url, window.location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) { return null; }
  }

  const scrollToBottom = () => { scroller.scrollTop = scroller.scrollHeight; };

  scroller.addEventListener("scroll", () => {
    stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  });

  async function api(method, url, body) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body) Object.assign(opts.headers, { "Content-Type": "application/json" });
    if (body) opts.body = JSON.stringify(body);
    let res = await fetch(url, opts);
    if (res.status === 401) { // no session yet, or an expired one: ask for one, then once more
      await fetch(SESSION_API, { method: "POST", credentials: "same-origin" });
      res = await fetch(url, opts);
    }
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : "";
      throw new Error(detail || "Request failed (HTTP " + res.status + ")");
    }
    return data || {};
  }

  // ---- rendering ----------------------------------------------------------
  function renderImage(url, alt, cls) {
    const box = el("div", cls);
    const img = document.createElement("img");
    img.alt = alt || "";
    img.decoding = "async";
    img.addEventListener("error", () => box.classList.add("img-failed"));
    img.addEventListener("load", () => { if (stick) scrollToBottom(); });
    const src = safeUrl(url);
    if (src) img.src = src; else box.classList.add("img-failed");
    box.appendChild(img);
    return box;
  }

  function renderButtons(buttons, cls) {
    const wrap = el("div", cls);
    buttons.forEach((b) => {
      if (!b || !b.payload) return;
      const btn = el("button", "chat-button", b.label || b.payload);
      btn.type = "button";
      btn.dataset.payload = b.payload;
      btn.addEventListener("click", () => send(b.label || null, b.payload));
      wrap.appendChild(btn);
    });
    return wrap;
  }

  function renderCard(c) {
    const card = el("div", "card");
    card.appendChild(renderImage(c.image_url, c.title || "Product", "card-img"));
    const body = el("div", "card-body");
    if (c.title) body.appendChild(el("div", "card-title", c.title));
    if (c.subtitle) body.appendChild(el("div", "card-subtitle", c.subtitle));
    if (c.price) body.appendChild(el("div", "card-price", c.price));
    if (c.stock) body.appendChild(el("div", "card-stock", c.stock));
    card.appendChild(body);
    if (Array.isArray(c.buttons) && c.buttons.length) card.appendChild(renderButtons(c.buttons, "card-buttons"));
    return card;
  }

  function renderMessage(m) {
    const dir = m.direction === "in" ? "in" : "out";
    const text = typeof m.text === "string" ? m.text : "";
    const cards = Array.isArray(m.cards) ? m.cards : [];
    const buttons = Array.isArray(m.buttons) ? m.buttons : [];
    const link = m.link && safeUrl(m.link.url) ? m.link : null;
    const image = m.image && m.image.url ? m.image : null;
    if (dir === "in" && !text.trim()) return null; // e.g. the silent "start" payload
    if (!text && !cards.length && !buttons.length && !link && !image) return null;

    const node = el("div", "msg msg-" + dir);
    node.dataset.id = String(m.id);
    const when = new Date(m.created_at || "");
    if (!isNaN(when)) node.title = when.toLocaleString();
    if (text) node.appendChild(el("div", "bubble", text));
    if (image) {
      const fig = renderImage(image.url, image.caption || "", "msg-image");
      if (image.caption) fig.appendChild(el("div", "caption", image.caption));
      node.appendChild(fig);
    }
    if (cards.length) {
      const row = el("div", "cards");
      cards.forEach((c) => { if (c) row.appendChild(renderCard(c)); });
      node.appendChild(row);
    }
    if (link) {
      const a = el("a", "pay-link", link.label || link.url);
      Object.assign(a, { href: safeUrl(link.url), target: "_blank", rel: "noopener" });
      node.appendChild(a);
    }
    if (buttons.length) node.appendChild(renderButtons(buttons, "quick-replies"));
    return node;
  }

  // Add messages (de-duplicated by id) keeping the list sorted by id.
  function addMessages(msgs) {
    if (!Array.isArray(msgs)) return;
    const fresh = msgs
      .filter((m) => m && Number.isFinite(Number(m.id)) && !seen.has(Number(m.id)))
      .sort((a, b) => Number(a.id) - Number(b.id));
    fresh.forEach((m) => {
      const id = Number(m.id);
      seen.add(id);
      lastId = Math.max(lastId, id);
      if (m.direction === "in" && m.text) { // the real echo replaces an optimistic bubble
        const twin = Array.from(pendingBox.children).find((p) => p.textContent === m.text);
        if (twin) twin.remove();
      }
      const node = renderMessage(m);
      if (!node) return;
      const next = Array.from(list.children).find((c) => Number(c.dataset.id) > id);
      list.insertBefore(node, next || null);
    });
    if (fresh.length) scrollToBottom();
  }

  // ---- status UI ----------------------------------------------------------
  function setTyping(delta) {
    inFlight = Math.max(0, inFlight + delta);
    typing.hidden = inFlight === 0;
    if (!typing.hidden) scrollToBottom();
  }

  function showError(message) {
    errorText.textContent = message;
    errorBox.hidden = !message;
  }

  // ---- sending ------------------------------------------------------------
  async function post(job) {
    setTyping(1);
    try {
      const data = await api("POST", API, job.body);
      if (job.pending) job.pending.remove();
      addMessages(data.messages);
      if (!failed.length) showError("");
    } catch (e) {
      if (job.pending) job.pending.classList.add("failed");
      failed.push(job);
      showError("Not sent: " + (e && e.message ? e.message : "network error"));
    } finally {
      setTyping(-1);
    }
  }

  const enqueue = (job) => { queue = queue.then(() => post(job)); };

  function send(text, payload) {
    sentCount += 1;
    const body = { client_id: randomId(), text: text || null, payload: payload || null };
    const job = { body, pending: null };
    if (text) { // optimistic bubble until the server echoes the recorded message
      job.pending = el("div", "pending-msg", text);
      pendingBox.appendChild(job.pending);
      stick = true;
      scrollToBottom();
    }
    enqueue(job);
  }

  retryBtn.addEventListener("click", () => {
    const jobs = failed;
    failed = [];
    showError("");
    jobs.forEach((job) => { // same client_id: the server de-duplicates
      if (job.pending) job.pending.classList.remove("failed");
      enqueue(job);
    });
  });

  const updateSendState = () => { sendBtn.disabled = !input.value.trim(); };

  input.addEventListener("input", updateSendState);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    updateSendState();
    send(text, null);
    input.focus();
  });

  // ---- history + polling --------------------------------------------------
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const url = API + "?after=" + lastId;
      const data = await api("GET", url);
      addMessages(data.messages);
      conn.hidden = true;
      if (!loaded) {
        loaded = true;
        if (lastId === 0 && sentCount === 0) send(null, "start?lang=" + browserLanguage()); // first visit: greet
      }
    } catch (e) {
      conn.hidden = false;
    }
    polling = false;
  }

  function browserLanguage() {
    return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
  }

  updateSendState();
  poll();
  setInterval(poll, POLL_MS);
})();
