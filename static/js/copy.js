// Copy buttons: <button data-copy="text">; progressive enhancement (the text is shown next to the button anyway).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});
document.querySelectorAll("[data-copy]").forEach(function (b) { b.hidden = !navigator.clipboard; });
