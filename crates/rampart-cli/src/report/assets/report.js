// rampart report: filters the matrix, jumps from a cell to its evidence, and records what it
// rendered on <body> (data-js-hosts, data-js-controls) so a test can tell the page ran.
(function () {
  "use strict";
  var body = document.body;
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.host-row"));
  var cols = Array.prototype.slice.call(document.querySelectorAll("th.control"));
  var failingCells = document.querySelectorAll("td.cell.fail").length;
  body.setAttribute("data-js-hosts", String(rows.length));
  body.setAttribute("data-js-controls", String(cols.length));
  body.setAttribute("data-js-failing", String(failingCells));
  var status = document.getElementById("js-status");

  var filter = document.getElementById("filter");
  var onlyFailing = document.getElementById("only-failing");
  function apply() {
    var q = filter ? filter.value.trim().toLowerCase() : "";
    var only = onlyFailing ? onlyFailing.checked : false;
    var shown = 0;
    rows.forEach(function (r) {
      var name = (r.getAttribute("data-host") || "").toLowerCase();
      var hide = (q && name.indexOf(q) < 0) || (only && r.getAttribute("data-failing") === "0");
      r.classList.toggle("hidden", hide);
      if (!hide) { shown++; }
    });
    // With "only failing", columns where no shown host fails are hidden too.
    cols.forEach(function (th, i) {
      var id = th.getAttribute("data-control");
      var cells = document.querySelectorAll('td.cell[data-col="' + i + '"]');
      var anyFail = false;
      cells.forEach(function (td) {
        if (td.classList.contains("fail") && !td.parentNode.classList.contains("hidden")) { anyFail = true; }
      });
      var hide = only && !anyFail;
      th.classList.toggle("hidden", hide);
      cells.forEach(function (td) { td.classList.toggle("hidden", hide); });
      th.setAttribute("data-visible", hide ? "0" : "1");
      void id;
    });
    document.querySelectorAll("th.group").forEach(function (g) {
      var first = parseInt(g.getAttribute("data-first"), 10), n = parseInt(g.getAttribute("data-span"), 10), vis = 0;
      for (var k = first; k < first + n; k++) { if (cols[k] && !cols[k].classList.contains("hidden")) { vis++; } }
      g.colSpan = Math.max(vis, 1);
      g.classList.toggle("hidden", vis === 0);
    });
    if (status) {
      status.textContent = shown + " of " + rows.length + " hosts \u00d7 " + cols.length + " controls, " +
        failingCells + " failing cell" + (failingCells === 1 ? "" : "s");
    }
  }
  if (filter) { filter.addEventListener("input", apply); }
  if (onlyFailing) { onlyFailing.addEventListener("change", apply); }
  apply();

  // A cell links to the control's row in its host's details: open them and mark the row.
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) { return; }
    var el = document.getElementById(id);
    if (!el) { return; }
    var d = el.closest ? el.closest("details") : null;
    if (d) { d.open = true; }
    document.querySelectorAll("tr.target").forEach(function (t) { t.classList.remove("target"); });
    if (el.tagName === "TR") { el.classList.add("target"); }
    el.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", reveal);
  reveal();

  var expand = document.getElementById("expand-all");
  if (expand) {
    expand.addEventListener("click", function (e) {
      e.preventDefault();
      var all = document.querySelectorAll("details.host");
      var open = Array.prototype.some.call(all, function (d) { return !d.open; });
      all.forEach(function (d) { d.open = open; });
    });
  }
  body.setAttribute("data-js", "ready");
})();
