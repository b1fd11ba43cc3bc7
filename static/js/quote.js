/* Property page: update the booking widget's quote as dates and guests change, from GET /api/v1/quote.
   Without JavaScript the widget is a plain GET form that the server renders the same way. */
(function () {
  "use strict";
  var form = document.getElementById("quote-form");
  var out = document.getElementById("quote-result");
  if (!form || !out || !window.fetch) { return; }
  var propertyId = form.getAttribute("data-property-id");
  var quoteUrl = form.getAttribute("data-quote-url");
  var bookUrl = form.getAttribute("data-book-url");
  var groupAddUrl = form.getAttribute("data-group-add-url");
  var field = function (name) { return form.elements.namedItem(name); };
  var pending = null, timer = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  // The page's language (<html lang>) formats money and dates as the server does (properties/display.py, CLDR).
  var lang = document.documentElement.lang || "en";
  function money(value, currency) {
    return new Intl.NumberFormat(lang, { style: "currency", currency: currency }).format(Number(value));
  }
  function day(iso) {
    var d = new Date(iso + "T00:00:00Z");
    return d.toLocaleDateString(lang === "en" ? "en-GB" : lang, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
  }
  // Django's JavaScript catalogue (/jsi18n/, loaded before this file) translates; English without it.
  var gettext = window.gettext || function (text) { return text; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (fmt, obj) {
    return fmt.replace(/%\((\w+)\)s/g, function (_m, key) { return String(obj[key]); });
  };
  function nights(n) { return interpolate(ngettext("%(count)s night", "%(count)s nights", n), { count: n }, true); }
  function message(text) { out.replaceChildren(el("p", { "class": "muted" }, [text])); }
  function errors(list) {
    out.replaceChildren(el("div", { "class": "alert alert-error", role: "alert" }, [
      el("p", {}, [el("strong", {}, [gettext("These dates can't be booked:")])]),
      el("ul", { "class": "reasons" }, list.map(function (m) { return el("li", {}, [m]); }))
    ]));
  }

  function render(q, guests) {
    var c = q.currency, count = q.nights.length;
    var perNight = (Number(q.nightly_subtotal) - Number(q.discounts)) / count;
    var decimals = (String(q.total).split(".")[1] || "").length;
    var items = q.nights.map(function (n) {
      var li = el("li", {}, [el("span", {}, [day(n.date)]), " ", el("span", {}, [money(n.price, c)])]);
      n.adjustments.forEach(function (a) {
        li.appendChild(el("small", { "class": "adj" }, [a.name + " " + (Number(a.amount) > 0 ? "+" : "") + money(a.amount, c)]));
      });
      return li;
    });
    var rows = [el("tr", {}, [
      el("th", { scope: "row" }, [el("details", { "class": "nights" }, [
        el("summary", {}, [nights(count)]),
        el("ul", {}, items)
      ]), el("small", { "class": "muted" }, [interpolate(gettext("average %(price)s / night"), { price: money(perNight.toFixed(decimals), c) }, true)])]),
      el("td", {}, [money(q.nightly_subtotal, c)])
    ])];
    if (Number(q.discounts)) {
      rows.push(el("tr", { "class": "discount" }, [el("th", { scope: "row" }, [gettext("Discounts")]), el("td", {}, ["−" + money(q.discounts, c)])]));
    }
    q.fees.forEach(function (f) {
      rows.push(el("tr", {}, [el("th", { scope: "row" }, [f.label]), el("td", {}, [money(f.amount, c)])]));
    });
    if (Number(q.taxes)) {
      rows.push(el("tr", {}, [el("th", { scope: "row" }, [interpolate(gettext("Taxes (%(rate)s%%)").replace("%%", "%"), { rate: Number(q.tax_rate) }, true)]), el("td", {}, [money(q.taxes, c)])]));
    }
    var table = el("table", { "class": "quote-table" }, [
      el("caption", { "class": "visually-hidden" }, [interpolate(ngettext("Price for %(count)s night", "Price for %(count)s nights", count), { count: count }, true)]),
      el("tbody", {}, rows),
      el("tfoot", {}, [el("tr", {}, [el("th", { scope: "row" }, [gettext("Total")]), el("td", {}, [money(q.total, c)])])])
    ]);
    var box = el("div", { "class": "quote" + (q.available ? "" : " quote-unavailable") }, []);
    if (!q.available) {
      box.appendChild(el("div", { "class": "alert alert-error", role: "alert" }, [
        el("p", {}, [el("strong", {}, [gettext("These dates can't be booked:")])]),
        el("ul", { "class": "reasons" }, q.reasons.map(function (r) { return el("li", { "data-code": r.code }, [r.message]); }))
      ]));
    }
    box.appendChild(table);
    if (q.available) {
      var params = new URLSearchParams({ check_in: q.check_in, check_out: q.check_out, adults: guests.adults });
      if (guests.children > 0) { params.set("children", guests.children); }
      box.appendChild(el("a", { "class": "button button-primary button-block", href: bookUrl + "?" + params.toString() }, [gettext("Reserve")]));
      if (groupAddUrl) {
        box.appendChild(el("a", { "class": "button button-block group-add-link", href: groupAddUrl + "?" + params.toString() },
                           [form.getAttribute("data-group-add-label") || gettext("Add to group booking")]));
      }
      box.appendChild(el("p", { "class": "muted small" }, [gettext("You won't be charged yet: next you enter your details, then pay.")]));
    }
    out.replaceChildren(box);
  }

  function update() {
    var ci = field("check_in").value, co = field("check_out").value;
    var adults = parseInt(field("adults").value || "0", 10), children = parseInt(field("children").value || "0", 10);
    if (!ci || !co) { message(gettext("Choose your dates to see the full price.")); return; }
    if (co <= ci) { errors([gettext("Check-out must be after check-in.")]); return; }
    if (!(adults >= 1)) { errors([gettext("At least 1 adult.")]); return; }
    if (children < 0 || isNaN(children)) { children = 0; }
    var params = new URLSearchParams({ property_id: propertyId, check_in: ci, check_out: co, guests: adults + children });
    if (pending) { pending.abort(); }
    pending = new AbortController();
    out.setAttribute("aria-busy", "true");
    fetch(quoteUrl + "?" + params.toString(), { headers: { Accept: "application/json" }, signal: pending.signal })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        out.removeAttribute("aria-busy");
        if (res.ok) { render(res.body, { adults: adults, children: children }); return; }
        var list = [];
        Object.keys(res.body.errors || {}).forEach(function (k) { list = list.concat(res.body.errors[k]); });
        errors(list.length ? list : [res.body.detail || gettext("These dates can't be priced.")]);
      })
      .catch(function (e) { if (e.name !== "AbortError") { out.removeAttribute("aria-busy"); } });
    if (window.history && history.replaceState) {
      var page = new URLSearchParams({ check_in: ci, check_out: co, adults: adults });
      if (children) { page.set("children", children); }
      history.replaceState(null, "", "?" + page.toString() + "#book");
    }
  }

  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(update, 150); });
  form.addEventListener("input", function (e) {
    if (e.target.type === "number") { clearTimeout(timer); timer = setTimeout(update, 400); }
  });
})();
