// The double opt-in page: a GET only shows it (mail scanners fetch links but run no
// scripts and send no forms); a browser confirms at once by posting the form. The visible
// button does the same where scripts are off.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("consent-confirm-form");
  if (form && form.dataset.autoSubmit === "1" && !form.dataset.sent) {
    form.dataset.sent = "1";
    form.requestSubmit ? form.requestSubmit() : form.submit();
  }
});
