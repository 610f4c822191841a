/* Rapport first-party page tracking. Put on your site:
     <script src="https://rapport.example.com/wt/t.js" async></script>
   Sends page views (url, title, referrer; UTM parameters are in the url) to Rapport's
   /wt/collect. Only visitors Rapport can identify — the `rpv` token of a tracked email click
   or a form submission — are recorded, and only with their consent; others are ignored.
   The token is kept in this site's localStorage and removed from the address bar. */
(function () {
  "use strict";
  var KEY = "rapport_rpv";
  var me = document.currentScript;
  var base = me ? new URL(me.src).origin : "";
  if (!base) return;
  var store = {
    get: function () { try { return window.localStorage.getItem(KEY) || ""; } catch (e) { return ""; } },
    set: function (v) { try { window.localStorage.setItem(KEY, v); } catch (e) { /* private mode */ } }
  };
  var here = new URL(window.location.href);
  var token = here.searchParams.get("rpv");
  if (token) {
    store.set(token);
    here.searchParams.delete("rpv");
    if (window.history && window.history.replaceState) {
      window.history.replaceState(window.history.state, "", here.toString());
    }
  }
  function send() {
    var body = JSON.stringify({
      url: here.toString(),
      title: document.title || "",
      referrer: document.referrer || "",
      rpv: store.get()
    });
    try {
      fetch(base + "/wt/collect", {
        method: "POST",
        body: body,
        credentials: "include",
        keepalive: true,
        headers: { "Content-Type": "text/plain;charset=UTF-8" }
      });
    } catch (e) { /* never break the page */ }
  }
  // A form embedded from Rapport hands over the visitor token after a submission.
  window.addEventListener("message", function (event) {
    if (event.origin !== base || !event.data || !event.data.rapportVisitor) return;
    store.set(String(event.data.rapportVisitor));
  });
  send();
})();
