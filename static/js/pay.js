/* Payment page: a card form on Stripe.js's card element (contract in payments/views.py).
   Nothing comes from a CDN chosen here: Stripe.js is loaded from the js_url the server returns from /setup
   (localstripe's fake Stripe.js offline, the real one only with real keys).
   Flow: /setup → mount the card element → on submit confirmCardSetup → /card → (3-D Secure:
   confirmCardPayment → /return) → the booking page. The amount is never sent: the server charges the booking. */
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form || !window.fetch || !window.Promise) { return; }

  // Django's JavaScript catalogue (/jsi18n/, loaded before this file) translates; English without it.
  var gettext = window.gettext || function (text) { return text; };

  var data = form.dataset;
  var urls = { setup: data.setupUrl, card: data.cardUrl, "return": data.returnUrl };
  var csrfInput = form.querySelector("input[name=csrfmiddlewaretoken]");
  var csrf = csrfInput ? csrfInput.value : "";
  var button = document.getElementById("pay-button");
  var errorBox = document.getElementById("pay-error");
  var statusLine = document.getElementById("pay-status");
  var attemptsOut = form.querySelector("[data-attempts-left]");
  var cardFields = form.querySelector("[data-card-fields]");
  var afterClose = form.querySelector("[data-after-close]");
  var label = button.textContent;
  var stripe = null, card = null, secret = null, busy = false, closed = false, loading = null;

  function Problem(message, final) { this.message = message; this.final = !!final; }

  function setBusy(on, text) {
    busy = on;
    button.disabled = on || closed; // without a card element (it failed to load), Pay loads it again
    button.textContent = on ? gettext("Please wait…") : label;
    form.setAttribute("aria-busy", on ? "true" : "false");
    statusLine.textContent = text || "";
  }
  function showError(message) {
    var box = document.createElement("div");
    box.className = "alert alert-error";
    var p = document.createElement("p");
    p.textContent = message;
    box.appendChild(p);
    errorBox.replaceChildren(box);
  }
  function clearError() { errorBox.replaceChildren(); }
  function showAttempts(n) { if (attemptsOut && typeof n === "number") { attemptsOut.textContent = String(n); } }
  function attemptsText(n) { return n === 1 ? "1 attempt left" : n + " attempts left"; }
  function close() {
    closed = true;
    if (card && card.unmount) { try { card.unmount(); } catch (e) { /* already gone */ } }
    cardFields.hidden = true;
    button.hidden = true;
    afterClose.hidden = false;
    // The hold's countdown and the test cards no longer apply: the reservation cannot be paid here any more.
    document.querySelectorAll(".hold-timer, .test-cards").forEach(function (el) { el.hidden = true; });
    setBusy(false);
  }
  function fail(err) {
    if (err instanceof Problem) {
      showError(err.message);
      if (err.final) { close(); return; }
    } else {
      showError(gettext("We could not reach the payment service. Check your connection and try again."));
    }
    setBusy(false);
  }

  function call(action, body) {
    return fetch(urls[action], {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf,
                 "X-Booking-Token": data.token },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, ok: r.ok, body: b }; });
    });
  }
  function problem(res, fallback) {
    var b = res.body || {};
    var message = b.detail || b.error || fallback;
    if (res.status === 429) { return new Problem(message || gettext("Too many attempts; please wait a minute."), false); }
    if (res.status === 409 || res.status === 404 || res.status === 403) {
      return new Problem(message || gettext("This booking cannot be paid now."), true);
    }
    return new Problem(message || gettext("The payment service did not answer; please try again."), false);
  }

  function loadScript(url) {
    return new Promise(function (resolve, reject) {
      if (typeof window.Stripe === "function") { resolve(); return; }
      var s = document.createElement("script");
      s.src = url;
      s.async = true;
      s.onload = function () { resolve(); };
      s.onerror = function () { reject(new Problem(gettext("The card form could not be loaded. Please reload the page."), false)); };
      document.head.appendChild(s);
    });
  }

  async function setup() {
    var res = await call("setup");
    if (!res.ok) { throw problem(res); }
    secret = res.body.client_secret;
    showAttempts(res.body.attempts_left);
    return res.body;
  }

  function labelFields() {
    // localstripe's fake element renders bare inputs with placeholders only; name them for screen readers.
    // (Real Stripe.js renders its own labelled iframe: there is nothing to do then.)
    form.querySelectorAll("#card-element input:not([aria-label])").forEach(function (input) {
      var name = (input.getAttribute("placeholder") || "").replace("_", " ");
      input.setAttribute("aria-label", gettext("Card") + " " + (name === "number" ? gettext("number") : name));
      input.setAttribute("autocomplete", "off");
    });
  }

  async function start() {
    setBusy(true, gettext("Loading the card form…"));
    clearError();
    try {
      var info = await setup();
      await loadScript(info.js_url);
      if (typeof window.Stripe !== "function") { throw new Problem(gettext("The card form could not be loaded."), false); }
      stripe = window.Stripe(info.publishable_key);
      card = stripe.elements().create("card", { hidePostalCode: true });
      card.mount("#card-element");
      labelFields();
      setBusy(false);
    } catch (err) {
      fail(err);
    }
  }

  function finish(text) {
    setBusy(true, text || gettext("Payment received. Opening your confirmation…"));
    window.location.assign(data.statusUrl);
  }

  async function afterCard(res) {
    if (!res.ok) { throw problem(res); }
    var b = res.body;
    showAttempts(b.attempts_left);
    if (b.status === "succeeded") { finish(); return; }
    if (b.status === "pending") {
      await call("return");
      finish(gettext("Payment sent. Opening your booking…"));
      return;
    }
    if (b.status === "requires_action") {
      setBusy(true, gettext("Waiting for your bank to confirm the payment (3-D Secure)…"));
      var auth = await stripe.confirmCardPayment(b.client_secret);
      var back = await call("return");
      if (back.ok && (back.body.booking_status === "confirmed" || back.body.payment_status === "paid")) {
        finish();
        return;
      }
      var reason = (auth && auth.error && auth.error.message) || gettext("Your bank did not confirm the payment.");
      var again = await call("setup"); // a fresh card form, and how many attempts remain
      if (!again.ok) { throw problem(again, reason); }
      secret = again.body.client_secret;
      showAttempts(again.body.attempts_left);
      throw new Problem(reason + " You can try again (" + attemptsText(again.body.attempts_left) + ").", false);
    }
    if (b.status === "refunded") { throw new Problem(b.error || gettext("Your payment was refunded."), true); }
    // failed
    var left = typeof b.attempts_left === "number" ? b.attempts_left : 0;
    var message = b.error || gettext("Your card was declined.");
    if (b.booking_status !== "reserved" || left <= 0) {
      throw new Problem(message + " No attempts are left, so the reservation was released.", true);
    }
    throw new Problem(message + " Check the details or use another card (" + attemptsText(left) + ").", false);
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (busy || closed) { return; }
    if (!card) { start(); return; }
    setBusy(true, gettext("Checking your card…"));
    clearError();
    try {
      if (!secret) { await setup(); }
      var result = await stripe.confirmCardSetup(secret, { payment_method: { card: card } });
      if (result.error) {
        if (result.error.type !== "validation_error") { secret = null; }
        throw new Problem(result.error.message || gettext("Your card details could not be checked."), false);
      }
      secret = null; // a SetupIntent is used once: the next attempt asks /setup for a new one
      var pm = result.setupIntent.payment_method;
      setBusy(true, gettext("Paying…"));
      await afterCard(await call("card", { payment_method_id: typeof pm === "string" ? pm : pm.id }));
    } catch (err) {
      fail(err);
    }
  });

  // The hold's deadline: once it has passed the server refuses the payment, so say so before the guest types.
  var countdown = document.querySelector(".countdown[data-seconds]");
  if (countdown) {
    var seconds = parseInt(countdown.getAttribute("data-seconds"), 10);
    if (seconds >= 0) {
      setTimeout(function () {
        if (!busy && !closed) {
          showError(gettext("The time to pay has run out, so the dates were released. Nothing was charged."));
          close();
        }
      }, seconds * 1000);
    }
  }

  var needsJs = document.getElementById("pay-needs-js");
  if (needsJs) { needsJs.hidden = true; }
  form.hidden = false;
  start();
})();
