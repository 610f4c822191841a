// The segment builder re-renders on the server when a field or operator changes. What the
// person types while that request is out is put back after the swap: the server rendered
// the form as it was when the request left, so without this the text would be lost.
(function () {
  "use strict";
  var pending = false;
  var typed = {};

  function inBuilder(el) {
    return el && el.closest && el.closest("#builder");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "builder") {
      pending = true;
      typed = {};
    }
  });

  document.addEventListener("input", function (event) {
    var el = event.target;
    if (pending && inBuilder(el) && el.name && el.tagName === "INPUT") {
      typed[el.name] = el.value;
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!pending || !document.getElementById("builder")) {
      return;
    }
    pending = false;
    Object.keys(typed).forEach(function (name) {
      var el = document.querySelector('#builder input[name="' + CSS.escape(name) + '"]');
      if (el && el.value !== typed[name]) {
        el.value = typed[name];
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
    typed = {};
  });
})();
