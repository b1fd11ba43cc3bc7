/* Forms: after a submit that came back with problems, move the focus to the summary of the problems
   so keyboard and screen-reader users land on it (its links lead to each field). */
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }
})();
