/* Booking pages: the time left to pay a hold, and the Print button. No dependencies.

   The countdown (templates/bookings/_hold_countdown.html) arrives written by the server: "23 h 59 min left".
   This keeps it current in whole minutes, from the translated formats the server put in data attributes
   (data-format-hours "%(hours)s h %(minutes)s min left", -minutes, -under-a-minute, -done). The element is a
   polite live region: its text changes only when the minute changes, so a screen reader hears it at most once
   a minute, never every second. */
(function () {
  "use strict";
  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return String(values[key]); });
  }
  function timeLeft(el, seconds) {
    var hours = Math.floor(seconds / 3600), minutes = Math.floor((seconds % 3600) / 60);
    if (seconds <= 0) { return el.getAttribute("data-format-done"); }
    if (hours > 0) { return format(el.getAttribute("data-format-hours"), { hours: hours, minutes: minutes }); }
    if (minutes > 0) { return format(el.getAttribute("data-format-minutes"), { minutes: minutes }); }
    return el.getAttribute("data-format-under-a-minute");
  }
  document.querySelectorAll(".countdown[data-seconds][data-format-hours]").forEach(function (el) {
    var deadline = Date.now() + parseInt(el.getAttribute("data-seconds"), 10) * 1000;
    var timer = null;
    function update() {
      var left = Math.max(0, Math.floor((deadline - Date.now()) / 1000));
      var text = timeLeft(el, left);
      if (el.textContent !== text) { el.textContent = text; } // only a new minute changes the live region
      if (left <= 0) { return; }
      // Wake at the next whole minute of the time left (plus a little, so the floor has moved on).
      timer = setTimeout(update, (left % 60 || 60) * 1000 + 50);
    }
    update();
    window.addEventListener("pagehide", function () { clearTimeout(timer); });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
