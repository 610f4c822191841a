// Rule builder: show only the inputs of the chosen trigger and of each row's action.
// Without JavaScript every input shows and the form still works.
(function () {
  "use strict";
  function sync(form) {
    var trigger = form.querySelector("[name=trigger_type]");
    form.querySelectorAll("[data-trigger-only]").forEach(function (el) {
      var wanted = el.getAttribute("data-trigger-only").split(" ");
      el.hidden = trigger && wanted.indexOf(trigger.value) === -1;
    });
    // Indent each step under the if/else it runs in (steps are numbered from 1).
    var depth = {};
    var lastBranch = null;
    form.querySelectorAll("[data-action-row]").forEach(function (row, index) {
      var number = index + 1;
      var type = row.querySelector("select[name$='-type']");
      var value = type ? type.value : "";
      row.querySelectorAll("[data-param]").forEach(function (el) {
        el.hidden = el.getAttribute("data-param").split(" ").indexOf(value) === -1;
      });
      var place = row.querySelector("select[name$='-in_branch']");
      var where = place ? place.value : "";
      var parent = where === "" ? null : (where.indexOf(".") > 0 ? parseInt(where, 10) : lastBranch);
      depth[number] = parent && depth[parent] !== undefined ? depth[parent] + 1 : 0;
      row.setAttribute("data-depth", String(Math.min(depth[number], 5)));
      if (value === "branch") lastBranch = number;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-rule-builder]");
    if (!form) return;
    form.addEventListener("change", function () { sync(form); });
    sync(form);
  });
})();
