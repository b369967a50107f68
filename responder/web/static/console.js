// Live countdowns: every [data-due] element counts down to its deadline (server time, not the
// phone's clock: the offset is taken from the page's data-now), turning red once it passes.
(function () {
  "use strict";
  var body = document.body;
  var serverNow = Date.parse(body.dataset.now || "");
  var offset = isNaN(serverNow) ? 0 : serverNow - Date.now();
  function unit(name, n) { return (body.dataset["unit" + name] || "{n}").replace("{n}", n); }
  function span(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return unit("Day", d) + (h ? unit("Hour", h) : "");
    if (h) return unit("Hour", h) + unit("Min", m);
    return unit("Min", m) + unit("Sec", s % 60);
  }
  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) return;
      var left = due - now;
      var tpl = left > 0 ? body.dataset.left : body.dataset.over;
      el.textContent = (tpl || "{span}").replace("{span}", span(Math.abs(left)));
      el.classList.toggle("overdue", left <= 0);
      el.classList.toggle("open", left > 0);
      el.classList.toggle("soon", left > 0 && left < 3600 * 1000);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
