// Forms marked data-busy="..." say that they are working once sent and are never sent twice: the
// second click of a double click does nothing, the button is disabled and the text is shown
// (a file, not inline script: the content security policy allows only 'self').
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute || !form.hasAttribute("data-busy")) { return; }
  if (form.dataset.sent === "yes") { event.preventDefault(); return; }
  form.dataset.sent = "yes";
  var status = form.querySelector(".busy-status");
  if (status) { status.textContent = form.getAttribute("data-busy"); }
  // Disabled after this event, so that the clicked button's name and value are still sent.
  window.setTimeout(function () {
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
      b.disabled = true;
      b.setAttribute("aria-disabled", "true");
    });
  }, 0);
}, true);
// Back from the browser's cache (after a refusal, say), a form may be sent again.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.dataset.sent = "";
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
      b.disabled = false;
      b.removeAttribute("aria-disabled");
    });
  });
});
