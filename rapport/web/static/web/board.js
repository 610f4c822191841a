/* The pipeline board's drag and drop, and the small dialogs of the lead and opportunity
   pages. Optional like rapport.js: without JavaScript every card keeps its "Move to…" form
   (a plain POST) and the conversion dialog is a page of its own.

   - Board: SortableJS moves a card between columns; the drop fills the card's own
     "Move to…" form and submits it through htmx, which swaps in the board as the server
     then shows it (totals updated; a refused or stale move puts the card back).
   - Lost stages: before a move to a lost stage is sent, a dialog asks for the reason.
   - Dialogs: a <dialog data-modal> that htmx swaps in opens as a modal.
   - Record pages: forms marked data-sync-version send the page's current version (inline
     edits bump it without reloading the forms). */
(function () {
  "use strict";

  var pending = null; // the dragged card waiting for the server: {card, from, index}
  var focusAfterSwap = null; // id of the card to focus once the board is swapped in
  var dragging = false;

  function putBack() {
    if (!pending) return;
    var card = pending.card;
    card.classList.remove("is-saving");
    if (pending.from && card.parentNode !== pending.from) {
      pending.from.insertBefore(card, pending.from.children[pending.index] || null);
    }
    pending = null;
  }

  function reloadBoard() {
    if (!document.getElementById("board")) return;
    htmx.ajax("GET", window.location.href, {
      target: "#board",
      select: "#board",
      swap: "outerHTML",
    });
  }

  // The card's own "Move to…" form when it is open, else the board's one shared form
  // pointed at the card (its URL and version are on the card).
  function moveFormFor(card) {
    var own = card.querySelector("form.board-move-form");
    if (own) return own;
    var shared = document.getElementById("board-move-form");
    var link = card.querySelector("a.board-move-link");
    if (!shared || !link) return null;
    shared.setAttribute("data-card", card.id);
    shared.setAttribute("action", link.pathname);
    shared.querySelector("input[name=version]").value = card.getAttribute("data-version") || "";
    return shared;
  }

  function cardOf(form) {
    return form.closest(".board-card") || document.getElementById(form.getAttribute("data-card"));
  }

  function submitMove(card, stageId, origin) {
    var form = moveFormFor(card);
    if (!form) {
      pending = { card: card, from: origin.from, index: origin.index };
      putBack();
      return;
    }
    form.querySelector("select[name=stage_id]").value = stageId;
    form.querySelector("input[name=lost_reason]").value = "";
    pending = { card: card, from: origin.from, index: origin.index };
    card.classList.add("is-saving");
    if (form.requestSubmit) form.requestSubmit();
    else htmx.trigger(form, "submit");
  }

  function initBoard(root) {
    if (typeof Sortable === "undefined") return;
    root.querySelectorAll(".board-cards").forEach(function (list) {
      if (list.getAttribute("data-sortable")) return;
      list.setAttribute("data-sortable", "1");
      Sortable.create(list, {
        group: "board",
        draggable: ".board-card.is-movable",
        filter: "details, summary, select, button, input, label, .board-move-link",
        preventOnFilter: false,
        // Pointer events rather than native drag and drop: the same on touch screens.
        forceFallback: true,
        fallbackOnBody: true,
        fallbackTolerance: 4,
        delayOnTouchOnly: true,
        delay: 180,
        animation: 120,
        ghostClass: "board-card-ghost",
        chosenClass: "board-card-chosen",
        dragClass: "board-card-drag",
        onStart: function () {
          dragging = true;
        },
        onEnd: function (evt) {
          // The click that ends a drag must not open the card's link.
          setTimeout(function () {
            dragging = false;
          }, 0);
          if (evt.to === evt.from) return;
          focusAfterSwap = evt.item.id;
          submitMove(evt.item, evt.to.getAttribute("data-stage-id"), {
            from: evt.from,
            index: evt.oldIndex,
          });
        },
      });
    });
  }

  document.addEventListener(
    "click",
    function (event) {
      if (dragging && event.target.closest(".board-card")) {
        event.preventDefault();
        event.stopPropagation();
      }
    },
    true
  );

  // A card's "Move to…" link (a page of its own without JavaScript) fetches the card's
  // move form in place of the link.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.board-move-link");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    htmx.ajax("GET", link.getAttribute("href"), {
      source: link,
      target: link,
      swap: "outerHTML",
      select: "form",
    });
  });

  // ----- the lost reason, asked before the move is sent ----------------------------------
  function askLostReason(name, stageName, done) {
    var dialog = document.getElementById("lost-dialog");
    var input = dialog.querySelector("input, select"); // a select once the picklist has reasons
    dialog.querySelector("[data-lost-name]").textContent = name;
    dialog.querySelector("[data-lost-stage]").textContent = stageName;
    input.value = "";
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      function () {
        var reason = input.value.trim();
        done(dialog.returnValue === "move" && reason ? reason : null);
      },
      { once: true }
    );
    dialog.showModal();
    input.focus();
  }

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    if (!form || !form.matches || !form.matches("form.board-move-form")) return;
    var select = form.querySelector("select[name=stage_id]");
    var option = select.options[select.selectedIndex];
    var reason = form.querySelector("input[name=lost_reason]");
    var dialog = document.getElementById("lost-dialog");
    var card = cardOf(form);
    if (card) focusAfterSwap = card.id;
    if (!option || option.getAttribute("data-kind") !== "lost" || reason.value.trim()) return;
    if (!dialog || !dialog.showModal) return; // the server asks on a page of its own
    event.preventDefault();
    var name = card ? card.querySelector(".board-card-title").textContent : "";
    askLostReason(name, option.textContent, function (text) {
      if (text === null) {
        putBack();
        var details = form.closest("details");
        if (details) details.removeAttribute("open");
        return;
      }
      reason.value = text;
      event.detail.issueRequest(true);
    });
  });

  // A refused move (403, server error, network) leaves the board as the server has it.
  function failed(event) {
    var elt = event.detail.elt;
    if (elt && elt.closest && elt.closest("#board")) {
      putBack();
      reloadBoard();
    }
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);

  // ----- record pages: the version the page has now ----------------------------------------
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "board-move-form") {
      event.detail.path = elt.getAttribute("action");
      return;
    }
    var current = document.getElementById("record-version");
    if (current && elt && elt.matches && elt.matches("form[data-sync-version]")) {
      event.detail.parameters.version = current.value;
    }
  });

  // ----- dialogs ---------------------------------------------------------------------------
  function openDialogs(root) {
    var dialogs = root.matches && root.matches("dialog[data-modal]") ? [root] : [];
    root.querySelectorAll("dialog[data-modal]").forEach(function (d) {
      dialogs.push(d);
    });
    dialogs.forEach(function (dialog) {
      if (dialog.open) return;
      dialog.addEventListener("close", function () {
        dialog.remove();
      });
      if (dialog.showModal) dialog.showModal();
      else dialog.setAttribute("open", "");
      var first = dialog.querySelector("select, input:not([type=hidden]), button");
      if (first) first.focus();
    });
  }

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-dialog]");
    var dialog = close && close.closest("dialog");
    if (dialog) {
      event.preventDefault();
      dialog.close();
    }
  });

  htmx.onLoad(function (elt) {
    initBoard(elt.querySelectorAll ? elt : document);
    openDialogs(elt.querySelectorAll ? elt : document);
    if (elt.id === "board") {
      pending = null;
      if (focusAfterSwap) {
        var link = document.querySelector("#" + focusAfterSwap + " .board-card-title");
        if (link) link.focus({ preventScroll: false });
        focusAfterSwap = null;
      }
    }
  });
})();
