// Move the access code from the link's fragment (never sent to any server) into the form,
// hide the code box when it is filled, and show progress. Without this script the page
// still works: the code box stays visible and progress is simply not counted.
(function () {
  "use strict";
  var form = document.getElementById("survey-form");
  if (!form) { return; }
  var token = form.querySelector("input[name=token]");
  var box = document.getElementById("token-box");
  // The shape of an access code (TOKEN_PATTERN in survey/services/submission.py). Anything
  // else in the fragment (the skip link's "#main" after a reload, a link cut short or mangled
  // by a mail client) leaves the code box empty and visible, so the person sees it at once.
  var CODE = /^[A-Za-z0-9_-]{20,64}$/;
  var fragment = window.location.hash.replace(/^#/, "");
  if (fragment && token && !token.value) {
    try { fragment = decodeURIComponent(fragment); } catch (e) { fragment = ""; }
    if (CODE.test(fragment)) { token.value = fragment; }
    history.replaceState(null, "", window.location.pathname);
  }
  if (token && token.value && box && !box.querySelector(".error")) {
    box.hidden = true;
  }
  var groups = form.querySelectorAll("fieldset.question");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  function update() {
    var done = 0;
    groups.forEach(function (g) { if (g.querySelector("input:checked")) { done += 1; } });
    bar.value = done;
    bar.textContent = done + " of " + groups.length;
    text.textContent = done + " of " + groups.length + " answered";
  }
  form.addEventListener("change", update);
  update();
  var message = document.getElementById("form-message");
  if (message) {
    var first = form.querySelector(".has-error input, .has-error textarea");
    if (first) { first.focus(); }
  }
})();
