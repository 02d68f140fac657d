// The hosted invoice page's only script. It checks the card form as the customer types (the server is
// the authority), sends the card to the vault with the page's link, then pays the invoice with the token.
(function () {
  "use strict";
  var form = document.getElementById("pay");
  if (!form) { return; }
  var base = location.pathname.replace(/\/+$/, "");
  var status = document.getElementById("status");
  var button = form.querySelector("button");
  var f = {
    name: document.getElementById("cc-name"),
    number: document.getElementById("cc-number"),
    month: document.getElementById("cc-exp-month"),
    year: document.getElementById("cc-exp-year"),
    csc: document.getElementById("cc-csc")
  };

  function digits(s) { return s.replace(/[\s-]/g, ""); }

  function luhn(n) {
    var sum = 0;
    for (var i = 0; i < n.length; i++) {
      var d = n.charCodeAt(n.length - 1 - i) - 48;
      if (i % 2 === 1) { d *= 2; if (d > 9) { d -= 9; } }
      sum += d;
    }
    return sum % 10 === 0;
  }

  function fullYear(y) { return y.length === 2 ? 2000 + Number(y) : Number(y); }

  function hint(input, message) {
    var el = document.getElementById(input.id + "-hint");
    el.textContent = message;
    input.setAttribute("aria-invalid", message ? "true" : "false");
    return !message;
  }

  function checkNumber() {
    var n = digits(f.number.value);
    if (!/^\d{12,19}$/.test(n) || !luhn(n)) { return hint(f.number, "Check the card number: it looks mistyped."); }
    return hint(f.number, "");
  }

  function checkExpiry() {
    var m = Number(f.month.value), y = fullYear(f.year.value.trim()), now = new Date();
    if (!(m >= 1 && m <= 12) || !/^\d{2}(\d{2})?$/.test(f.year.value.trim())) {
      return hint(f.year, "Enter the expiry month (1-12) and year.");
    }
    if (y < now.getFullYear() || (y === now.getFullYear() && m < now.getMonth() + 1)) {
      return hint(f.year, "This card has expired.");
    }
    return hint(f.year, "");
  }

  function checkCSC() {
    return hint(f.csc, /^\d{3,4}$/.test(f.csc.value.trim()) ? "" : "Enter the 3 or 4 digit security code.");
  }

  f.number.addEventListener("blur", checkNumber);
  f.year.addEventListener("blur", checkExpiry);
  f.csc.addEventListener("blur", checkCSC);

  function say(message, isError) {
    status.textContent = message;
    status.className = isError ? "status error" : "status";
  }

  function post(path, body, key) {
    var headers = { "Content-Type": "application/json" };
    if (key) { headers["Idempotency-Key"] = key; }
    return fetch(base + path, {
      method: "POST", headers: headers, body: JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) {
        if (!r.ok) { throw b; }
        return b;
      });
    });
  }

  function explain(p) {
    switch (p && p.code) {
      case "card_declined": return "Your card was declined. Try another card or contact your bank.";
      case "not_found": return p.detail || "This payment link is not valid.";
      case "invalid_state": return "This invoice is no longer open for payment. Reload the page to see its status.";
      case "rate_limited": return "Too many attempts. Wait a while before trying again.";
      case "validation_failed": return "Check the card details: " + ((p.errors || []).map(function (e) { return e.message; }).join("; ") || p.detail);
    }
    return "The payment could not be completed. Try again in a moment.";
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var ok = [checkNumber(), checkExpiry(), checkCSC()];
    var first = [f.number, f.year, f.csc][ok.indexOf(false)];
    if (first) { first.focus(); say("Check the highlighted fields.", true); return; }
    button.disabled = true;
    say("Processing your payment…", false);
    var card = {
      number: digits(f.number.value), exp_month: Number(f.month.value), exp_year: fullYear(f.year.value.trim()),
      cvc: f.csc.value.trim()
    };
    if (f.name.value.trim()) { card.name = f.name.value.trim(); }
    var key = crypto.randomUUID();
    post("/tokens", { customer_id: form.dataset.customer, card: card }).then(function (t) {
      f.number.value = ""; f.csc.value = "";
      return post("/pay", { token: t.id }, key);
    }).then(function () {
      form.hidden = true;
      var paid = document.getElementById("paid");
      paid.hidden = false;
      paid.focus();
    }).catch(function (p) {
      say(explain(p), true);
      button.disabled = false;
    });
  });
}());
