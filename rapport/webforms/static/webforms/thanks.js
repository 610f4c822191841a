/* After a submission inside an embedded form: hand the visitor token to the framing page
   (its /wt/t.js keeps it). The page may be framed only by the company's sites (CSP). */
(function () {
  "use strict";
  var el = document.getElementById("rapport-visitor");
  if (!el || window.parent === window) return;
  window.parent.postMessage({ rapportVisitor: el.getAttribute("data-rpv") }, "*");
})();
