// Live quote preview on the property admin page: refetch the server-rendered fragment as the stay changes.
(function () {
  "use strict";
  function init(box) {
    var output = box.querySelector(".qp-output");
    var timer = null;
    var latest = 0;
    function refresh() {
      var params = new URLSearchParams();
      box.querySelectorAll("[data-qp]").forEach(function (input) { params.set(input.dataset.qp, input.value); });
      var ticket = ++latest;
      fetch(box.dataset.url + "?" + params.toString(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.text(); })
        .then(function (html) { if (ticket === latest) { output.innerHTML = html; } })
        .catch(function () { output.textContent = "The preview could not be loaded."; });
    }
    box.querySelectorAll("[data-qp]").forEach(function (input) {
      input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 250); });
    });
    refresh();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".quote-preview[data-url]").forEach(init);
  });
})();
