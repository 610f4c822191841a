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

  // Global search typeahead. htmx fills #search-suggestions while one types (debounced,
  // see _topbar.html); here: open/close it, arrows move through the hits (the focus stays
  // in the box, aria-activedescendant names the hit), Enter opens the highlighted hit
  // (without one the form submits: the full results page), Esc closes the list.
  var suggestDismissed = null;

  function searchInput() {
    return document.getElementById("global-search");
  }

  function suggestBox() {
    return document.getElementById("search-suggestions");
  }

  function suggestOptions() {
    var box = suggestBox();
    return box ? Array.prototype.slice.call(box.querySelectorAll("[role=option]")) : [];
  }

  function setActiveOption(option) {
    var input = searchInput();
    suggestOptions().forEach(function (o) {
      o.setAttribute("aria-selected", o === option ? "true" : "false");
      o.classList.toggle("is-active", o === option);
    });
    if (!input) return;
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function setSuggestOpen(open) {
    var box = suggestBox();
    var input = searchInput();
    if (!box || !input) return;
    open = open && box.children.length > 0 && input.value.trim() !== "";
    box.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) setActiveOption(null);
  }

  function suggestIsOpen() {
    var box = suggestBox();
    return !!box && !box.hidden;
  }

  function moveSuggestion(step) {
    var options = suggestOptions();
    if (!options.length) return;
    var current = options.findIndex(function (o) {
      return o.getAttribute("aria-selected") === "true";
    });
    var next = current + step;
    if (next < -1) next = options.length - 1;
    if (next >= options.length) next = -1;
    setActiveOption(next === -1 ? null : options[next]);
  }

  function onSearchKey(event) {
    var key = event.key;
    if (key === "ArrowDown" || key === "ArrowUp") {
      if (!suggestIsOpen()) {
        suggestDismissed = null;
        setSuggestOpen(true);
        if (!suggestIsOpen()) return false;
      }
      event.preventDefault();
      moveSuggestion(key === "ArrowDown" ? 1 : -1);
      return true;
    }
    if (key === "Enter" && suggestIsOpen()) {
      var active = suggestOptions().filter(function (o) {
        return o.getAttribute("aria-selected") === "true";
      })[0];
      if (active) {
        event.preventDefault();
        window.location.assign(active.href);
        return true;
      }
      return false;
    }
    if (key === "Escape" && suggestIsOpen()) {
      event.preventDefault();
      suggestDismissed = event.target.value;
      setSuggestOpen(false);
      return true;
    }
    return false;
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "search-suggestions") {
      var input = searchInput();
      setActiveOption(null);
      setSuggestOpen(
        !!input && document.activeElement === input && input.value !== suggestDismissed
      );
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target.id === "global-search") suggestDismissed = null;
  });

  document.addEventListener("focusout", function (event) {
    var form = event.target.closest && event.target.closest(".global-search");
    if (form && !(event.relatedTarget && form.contains(event.relatedTarget))) {
      setSuggestOpen(false);
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.id === "global-search" && event.target.value !== suggestDismissed) {
      setSuggestOpen(true);
    }
  });

  // Keyboard: "/" goes to the search box, Esc closes menus, the phone menu and inline editors.
  document.addEventListener("keydown", function (event) {
    if (event.target.id === "global-search" && onSearchKey(event)) return;
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
    if (!target.closest(".global-search")) setSuggestOpen(false);
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
