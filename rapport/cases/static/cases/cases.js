// The service desk's keyboard shortcuts and small behaviours (no inline JS: the CSP forbids it).
(function () {
  "use strict";
  function typing(target) {
    var tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }
  function select(value) {
    var radio = document.querySelector('.case-composer input[name="kind"][value="' + value + '"]');
    if (radio) radio.checked = true;
    var body = document.getElementById("case-reply-body");
    if (body) body.focus();
  }
  document.addEventListener("keydown", function (event) {
    var body = document.getElementById("case-reply-body");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target === body) {
      event.preventDefault();
      body.form.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "r" && body) { event.preventDefault(); select("reply"); }
    else if (event.key === "n" && body) { event.preventDefault(); select("note"); }
    else if (event.key === "m") {
      var picker = document.getElementById("macro-picker");
      if (picker) { event.preventDefault(); picker.focus(); }
    } else if (event.key === "g" && document.querySelector(".case-page")) {
      window.location.href = "/cases/";
    } else if (event.key === "c" && document.querySelector(".case-table, .empty-state")) {
      window.location.href = "/cases/new";
    } else if (/^[1-5]$/.test(event.key)) {
      var tabs = document.querySelectorAll('.view-tabs a.tab');
      var tab = tabs[parseInt(event.key, 10) - 1];
      if (tab && document.querySelector("nav.view-tabs[aria-label=Workspace]")) {
        window.location.href = tab.href;
      }
    }
  });
  // Bulk selection: "select all" and the count.
  function count() {
    var n = document.querySelectorAll('input[name="ids"][form="bulk-form"]:checked').length;
    var label = document.querySelector("[data-bulk-count]");
    if (label) label.textContent = n + " selected";
  }
  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t.matches("[data-select-all]")) {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach(function (box) {
        box.checked = t.checked;
      });
    }
    if (t.matches('input[name="ids"], [data-select-all]')) count();
    if (t.matches("select[data-autosubmit]")) t.form.requestSubmit();
  });
})();
