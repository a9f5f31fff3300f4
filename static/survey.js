// Move the access code from the link's fragment (never sent to any server) into the form,
// hide the code box when it is filled, show progress, and keep the code across a language
// switch. Without this script the page still works: the code box stays visible and progress
// is simply not counted.
(function () {
  "use strict";
  var form = document.getElementById("survey-form");
  if (!form) { return; }
  var token = form.querySelector("input[name=token]");
  var box = document.getElementById("token-box");
  // The shape of an access code, "<key id>.<secret>": the page carries TOKEN_PATTERN of
  // survey/services/submission.py, its one definition. Anything else in the
  // fragment (the skip link's "#main" after a reload, a link cut short or mangled by a mail
  // client) leaves the code box empty and visible, so the person sees it at once.
  var CODE = new RegExp(form.getAttribute("data-code-pattern") || "^$");
  // The code also stays in this tab's sessionStorage (gone when the tab closes; ballot.js
  // removes it once the ballot is accepted), so that reloading the page, whose address no
  // longer holds the code, brings back the code and with it the answers kept for it.
  var KEPT = "candor-code-" + form.getAttribute("data-round");
  function tab() { try { return window.sessionStorage; } catch (e) { return null; } }
  var fragment = window.location.hash.replace(/^#/, "");
  if (fragment && token && !token.value) {
    try { fragment = decodeURIComponent(fragment); } catch (e) { fragment = ""; }
    if (CODE.test(fragment)) {
      token.value = fragment;
      try { if (tab()) { tab().setItem(KEPT, fragment); } } catch (e) { /* blocked */ }
    }
    // Keep ?lang=: only the fragment leaves the address bar.
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  if (token && !token.value && !fragment && tab()) {
    var kept = tab().getItem(KEPT);
    if (kept && CODE.test(kept)) { token.value = kept; }
  }
  // The language links (?lang=..) name no code. With a code in hand that is not part of the
  // path, carry it to the other language in the fragment, where no server sees it.
  document.querySelectorAll("a[data-language-switch]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var code = token ? token.value.trim() : "";
      if (!CODE.test(code) || window.location.pathname.indexOf("/" + code) !== -1) { return; }
      event.preventDefault();
      window.location.assign(link.href.split("#")[0] + "#" + code);
    });
  });
  if (token && token.value && box && !box.querySelector(".error")) {
    box.hidden = true;
  }
  var groups = form.querySelectorAll("fieldset.question");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  // The page's language gives the wording, e.g. "{done} of {total} answered".
  function words(element, fallback, done) {
    return (element.getAttribute("data-template") || fallback)
      .replace("{done}", String(done)).replace("{total}", String(groups.length));
  }
  // Until the first answer the line keeps what the page says: how many questions, how long.
  var intro = text.textContent;
  function update() {
    var done = 0;
    groups.forEach(function (g) { if (g.querySelector("input:checked")) { done += 1; } });
    bar.value = done;
    bar.textContent = words(bar, "{done} of {total}", done);
    text.textContent = done ? words(text, "{done} of {total} answered", done) : intro;
  }
  form.addEventListener("change", update);
  update();
  var message = document.getElementById("form-message");
  if (message) {
    var first = form.querySelector(".has-error input, .has-error textarea");
    if (first) { first.focus(); }
  }
})();
