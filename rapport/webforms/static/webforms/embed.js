/* Rapport web form embed: <script src=".../static/webforms/embed.js" data-rapport-form="https://rapport.example/f/slug/" async></script>
   Inserts an iframe with the hosted form, passing this page's UTM parameters and address. */
(function () {
  "use strict";
  var scripts = document.querySelectorAll("script[data-rapport-form]");
  Array.prototype.forEach.call(scripts, function (tag) {
    if (tag.getAttribute("data-rapport-done")) return;
    tag.setAttribute("data-rapport-done", "1");
    var url;
    try { url = new URL(tag.getAttribute("data-rapport-form")); } catch (e) { return; }
    var here = new URL(window.location.href);
    ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (k) {
      var v = here.searchParams.get(k);
      if (v) url.searchParams.set(k, v);
    });
    url.searchParams.set("embed", "1");
    url.searchParams.set("landing", here.origin + here.pathname);
    var frame = document.createElement("iframe");
    frame.src = url.toString();
    frame.title = tag.getAttribute("data-title") || "Form";
    frame.width = "100%";
    frame.height = tag.getAttribute("data-height") || "640";
    frame.setAttribute("loading", "lazy");
    frame.style.border = "0";
    tag.parentNode.insertBefore(frame, tag.nextSibling);
  });
})();
