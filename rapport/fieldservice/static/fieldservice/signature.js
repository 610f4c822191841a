/* The customer's signature, drawn with a finger, a pen or a mouse on a <canvas>
   (pointer events, with touch and mouse events for older browsers). On submit the drawing
   goes into the form's hidden field as a PNG data URL; the server stores it through
   rapport/files. An empty pad is not sent. */
(function () {
  "use strict";

  function setUp(form) {
    var canvas = form.querySelector("[data-signature-pad]");
    var field = form.querySelector("[data-signature-value]");
    var error = form.querySelector("[data-signature-error]");
    if (!canvas || !field) return;
    var ctx = canvas.getContext("2d");
    var drawing = false;
    var drawn = false;
    var last = null;

    function reset() {
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.lineWidth = 3;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#111111";
      drawn = false;
    }

    function point(event) {
      var rect = canvas.getBoundingClientRect();
      var source = event.touches && event.touches.length ? event.touches[0] : event;
      return {
        x: ((source.clientX - rect.left) * canvas.width) / rect.width,
        y: ((source.clientY - rect.top) * canvas.height) / rect.height,
      };
    }

    function start(event) {
      event.preventDefault();
      drawing = true;
      last = point(event);
      ctx.beginPath();
      ctx.arc(last.x, last.y, 1.5, 0, Math.PI * 2);
      ctx.fillStyle = "#111111";
      ctx.fill();
      drawn = true;
    }

    function move(event) {
      if (!drawing) return;
      event.preventDefault();
      var p = point(event);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
      last = p;
      drawn = true;
      if (error) error.hidden = true;
    }

    function end() {
      drawing = false;
    }

    reset();
    if (window.PointerEvent) {
      canvas.addEventListener("pointerdown", function (e) {
        if (canvas.setPointerCapture) canvas.setPointerCapture(e.pointerId);
        start(e);
      });
      canvas.addEventListener("pointermove", move);
      canvas.addEventListener("pointerup", end);
      canvas.addEventListener("pointercancel", end);
    } else {
      canvas.addEventListener("mousedown", start);
      canvas.addEventListener("mousemove", move);
      window.addEventListener("mouseup", end);
      canvas.addEventListener("touchstart", start, { passive: false });
      canvas.addEventListener("touchmove", move, { passive: false });
      canvas.addEventListener("touchend", end);
    }

    var clear = form.querySelector("[data-signature-clear]");
    if (clear) clear.addEventListener("click", reset);

    form.addEventListener("submit", function (event) {
      if (!drawn) {
        event.preventDefault();
        if (error) error.hidden = false;
        return;
      }
      field.value = canvas.toDataURL("image/png");
    });
  }

  function init() {
    var forms = document.querySelectorAll("[data-signature-form]");
    for (var i = 0; i < forms.length; i++) setUp(forms[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
