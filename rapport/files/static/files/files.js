// The Files panel of record pages: drop files on the panel to upload them, and a file that is
// too large is named before anything is sent. Without JavaScript the form posts as usual.
(function () {
  "use strict";

  function formOf(el) {
    return el.closest("form.file-upload");
  }

  function check(form, files) {
    var max = parseInt(form.dataset.maxBytes, 10);
    var maxCount = parseInt(form.dataset.maxCount, 10);
    var error = form.querySelector("[data-file-error]");
    var message = "";
    if (files.length > maxCount) {
      message = "At most " + maxCount + " files at once.";
    }
    for (var i = 0; i < files.length && !message; i++) {
      if (files[i].size > max) {
        message = "“" + files[i].name + "” is too large: a file may be at most " + form.dataset.maxLabel + ".";
      } else if (files[i].size === 0) {
        message = "“" + files[i].name + "” is empty.";
      }
    }
    if (error) {
      error.textContent = message;
      error.hidden = !message;
    }
    return !message;
  }

  function submit(form) {
    if (window.htmx) {
      window.htmx.trigger(form, "submit");
    } else {
      form.submit();
    }
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("form.file-upload input[type=file]")) return;
    var form = formOf(input);
    if (input.files.length && check(form, input.files)) submit(form);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.file-upload")) return;
    var input = form.querySelector("input[type=file]");
    if (input && !check(form, input.files)) event.preventDefault();
  }, true);

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var panel = event.target.closest && event.target.closest(".files-panel");
      if (!panel || !panel.querySelector("form.file-upload")) return;
      event.preventDefault();
      panel.classList.add("is-dragging");
    });
  });

  ["dragleave", "drop"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var panel = event.target.closest && event.target.closest(".files-panel");
      if (!panel) return;
      if (name === "dragleave" && panel.contains(event.relatedTarget)) return;
      panel.classList.remove("is-dragging");
      if (name !== "drop") return;
      var form = panel.querySelector("form.file-upload");
      if (!form || !event.dataTransfer || !event.dataTransfer.files.length) return;
      event.preventDefault();
      var input = form.querySelector("input[type=file]");
      input.files = event.dataTransfer.files;
      if (check(form, input.files)) submit(form);
    });
  });
})();
