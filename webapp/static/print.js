// The briefing's Print button (a file, not inline script: the content security policy allows only 'self').
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-brief");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
});
