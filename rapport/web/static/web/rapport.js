/* Rapport's small enhancements on top of server-rendered pages and htmx.
   Everything here is optional: every page works without it (plain links and forms). */
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }

  function setNav(open) {
    document.body.classList.toggle("nav-open", open);
    document.querySelectorAll("[data-nav-toggle]").forEach(function (button) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Keyboard: "/" goes to the search box, Esc closes menus, the phone menu and inline editors.
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && !isTyping(event.target) && !event.ctrlKey && !event.metaKey) {
      var search = document.getElementById("global-search");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "Escape") {
      var editing = event.target.closest && event.target.closest(".field-editing");
      if (editing) {
        var cancel = editing.querySelector("[data-cancel]");
        if (cancel) cancel.click();
        return;
      }
      var open = document.querySelector("details[data-menu][open]");
      if (open) {
        closeMenus(null);
        var summary = open.querySelector("summary");
        if (summary) summary.focus();
      }
      setNav(false);
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    // A click outside an open menu closes it; opening one closes the others.
    var menu = target.closest("details[data-menu]");
    closeMenus(menu);

    var toggle = target.closest("[data-nav-toggle]");
    if (toggle) {
      event.preventDefault();
      setNav(!document.body.classList.contains("nav-open"));
      return;
    }
    var dismiss = target.closest("[data-dismiss]");
    if (dismiss) {
      var toast = dismiss.closest(".toast");
      if (toast) toast.remove();
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });

  // Bulk selection: "select all" and a live count of the checked rows.
  function updateBulkCount() {
    var label = document.querySelector("[data-selected-count]");
    if (!label) return;
    var checked = document.querySelectorAll('input[name="ids"][form="bulk-form"]:checked').length;
    label.textContent = checked ? checked + " selected:" : "With the checked rows:";
    document.body.classList.toggle("has-selection", checked > 0);
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach(function (box) {
        box.checked = target.checked;
      });
    }
    if (target.matches("[data-select-all], input[name='ids']")) updateBulkCount();
  });

  // Toasts fade away by themselves; one with an undo button stays longer.
  function scheduleToasts(root) {
    (root || document).querySelectorAll(".toast:not([data-scheduled])").forEach(function (toast) {
      toast.setAttribute("data-scheduled", "1");
      var delay = toast.querySelector(".toast-undo") ? 12000 : 5000;
      setTimeout(function () {
        toast.remove();
      }, delay);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    scheduleToasts(document);
    // On a phone the filter bar starts folded (it stays open without JavaScript).
    if (window.matchMedia("(max-width: 820px)").matches) {
      document.querySelectorAll("details[data-collapse-narrow]").forEach(function (d) {
        d.removeAttribute("open");
      });
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    scheduleToasts(document);
    updateBulkCount();
  });
})();
