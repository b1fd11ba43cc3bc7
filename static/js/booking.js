/* Booking pages: a countdown of the time a reservation is held, and the Print button. No dependencies. */
(function () {
  "use strict";
  document.querySelectorAll("time.countdown[data-seconds]").forEach(function (el) {
    var deadline = Date.now() + parseInt(el.getAttribute("data-seconds"), 10) * 1000;
    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var minutes = Math.floor(left / 60), seconds = left % 60;
      el.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      if (left === 0) {
        el.textContent = "0:00 — " + (el.getAttribute("data-time-up") || "time is up"); // translated by the page
        clearInterval(timer);
      }
    }
    el.setAttribute("aria-live", "off"); // announced once by the page, not every second
    var timer = setInterval(tick, 1000);
    tick();
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
