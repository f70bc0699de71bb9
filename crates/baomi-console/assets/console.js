// Baomi console: the little the pages need beyond plain forms (no inline scripts: CSP).
(function () {
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input.pick").forEach(function (b) { b.checked = all.checked; });
    });
  }
  // Destructive buttons ask once more.
  document.querySelectorAll("button.danger").forEach(function (b) {
    b.addEventListener("click", function (e) {
      if (!window.confirm(b.textContent.trim() + "？")) { e.preventDefault(); }
    });
  });
})();
