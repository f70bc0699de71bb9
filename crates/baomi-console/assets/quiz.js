// A knowledge test's time left, counted down on the attempt page; when the time is up the
// answers are handed in (the server decides whether they are in time: the deadline and a
// small grace for the network).
(function () {
  var box = document.getElementById("quiz-timer");
  var form = document.getElementById("quiz-answers");
  var out = document.getElementById("quiz-left");
  if (!box || !form || !out) { return; }
  var end = Date.now() + parseInt(box.getAttribute("data-seconds"), 10) * 1000;
  var sent = false;
  form.addEventListener("submit", function () { sent = true; });
  function tick() {
    var s = Math.max(0, Math.round((end - Date.now()) / 1000));
    var m = Math.floor(s / 60), r = s % 60;
    out.textContent = m + ":" + (r < 10 ? "0" : "") + r;
    if (s <= 60) { box.classList.add("warn"); }
    if (s === 0) {
      out.textContent = box.getAttribute("data-expired");
      if (!sent) { sent = true; form.submit(); }
      return;
    }
    window.setTimeout(tick, 250);
  }
  tick();
})();
