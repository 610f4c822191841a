/* Knowledge base: "Insert into reply" on the case page's suggested articles.
   Puts the article's text into the reply box (#case-reply-body) at the cursor and records
   the use of the article on the case (POST to the button's data-kb-use-url). */
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function insert(target, text) {
    var start = target.selectionStart != null ? target.selectionStart : target.value.length;
    var end = target.selectionEnd != null ? target.selectionEnd : target.value.length;
    var before = target.value.slice(0, start);
    var glue = before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "";
    target.setRangeText(glue + text + "\n", start, end, "end");
    target.dispatchEvent(new Event("input", { bubbles: true }));
    target.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-kb-insert]");
    if (!button) return;
    event.preventDefault();
    var source = document.getElementById(button.getAttribute("data-kb-insert"));
    var target = document.getElementById("case-reply-body");
    if (!source || !target) {
      button.textContent = "Open the reply box first";
      return;
    }
    insert(target, source.value);
    var url = button.getAttribute("data-kb-use-url");
    if (url) {
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      });
    }
    button.textContent = "Inserted";
    button.setAttribute("aria-pressed", "true");
  });
})();
