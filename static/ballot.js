// The unlinkable ballot (RFC 9474 blind signatures): check in at the first answer, then send
// the answers separately, without cookies, with a signature the server has never seen.
//
// What this browser keeps until the ballot is accepted, encrypted under a key derived from
// the access code (so only someone holding the link can read or use it): the blinding of the
// check-in (so a check-in whose reply was lost can be repeated), then the credential, and the
// answers chosen so far. A reload, a lost connection or a busy server loses nothing, and the
// link needs no second check-in. Without this script the form posts to the server, which does
// both steps itself (the page says that this is weaker).
//
// Check-in happens only on a person's own action (a trusted "change" event: a click, a key,
// leaving the comment box) or on send, never on page load: mail scanners open links and even
// run their scripts, and must consume nothing.
import { b64urlDecode, b64urlEncode, blind, finalize, importPublicKey, prepare } from "./blindrsa.js";

const form = document.getElementById("survey-form");
// The shape of an access code: the page carries TOKEN_PATTERN of survey/services/submission.py.
const CODE = new RegExp((form && form.dataset.codePattern) || "^$");
const SAVE_DELAY_MS = 400;
const MAX_TRIES = 10;
const CLOSED = Symbol("the round has closed"); // what key() gives when the server says so
const encoder = new TextEncoder();

async function digest(text) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

function storage() {
  try { return window.localStorage; } catch (e) { return null; } // blocked: keep going without
}

// The record of one code, kept in localStorage under a name and a key only the code gives.
// Writes happen in the order they were asked for, each with the record as it was then.
class Keeper {
  constructor(round, code) {
    this.round = round;
    this.code = code;
    this.chain = Promise.resolve();
  }
  async open() {
    const name = await digest("candor/store|" + this.round + "|" + this.code);
    this.name = "candor-ballot-" + b64urlEncode(name.slice(0, 16));
    const raw = await digest("candor/seal|" + this.round + "|" + this.code);
    this.key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  }
  async load() {
    const store = storage();
    const stored = store ? store.getItem(this.name) : null;
    if (!stored) { return {}; }
    try {
      const bytes = b64urlDecode(stored);
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.slice(0, 12) }, this.key, bytes.slice(12));
      const record = JSON.parse(new TextDecoder().decode(plain));
      return record && typeof record === "object" ? record : {};
    } catch (e) { return {}; }
  }
  save(record) {
    if (this.gone) { return this.chain; } // accepted: nothing is kept any more
    const plain = encoder.encode(JSON.stringify(record)); // the record as it is now
    this.chain = this.chain.then(async () => {
      if (this.gone) { return; }
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = new Uint8Array(await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: iv }, this.key, plain));
      const joined = new Uint8Array(12 + sealed.length);
      joined.set(iv); joined.set(sealed, 12);
      const store = storage();
      try { if (store) { store.setItem(this.name, b64urlEncode(joined)); } } catch (e) { /* full */ }
    }).catch(function () { /* a failed write must not block the next one */ });
    return this.chain;
  }
  forget() {
    this.gone = true;
    this.chain = this.chain.then(() => {
      const store = storage();
      try { if (store) { store.removeItem(this.name); } } catch (e) { /* blocked */ }
    });
    return this.chain;
  }
}

// --- the page ------------------------------------------------------------------------------

const token = form ? form.querySelector("input[name=token]") : null;
const tokenBox = document.getElementById("token-box");
const commentBox = form ? form.querySelector("textarea[name=comment]") : null;
const lang = form ? form.querySelector("input[name=lang]") : null;

function text(name) { return form.dataset[name] || ""; }

// The round's ballot keys by key id, when the page carries them (survey/web/survey_page.py),
// else null: then each code's key is asked for.
let carried;
function carriedKeys() {
  if (carried === undefined) {
    const block = document.getElementById("ballot-keys");
    try { carried = block ? JSON.parse(block.textContent) : null; } catch (e) { carried = null; }
    if (!carried || typeof carried !== "object") { carried = null; }
  }
  return carried;
}

// Messages go into live regions that are in the page from the start; a new paragraph is put
// in each time, so a message is announced again even when its words did not change.
function say(regionId, kind, words) {
  const region = document.getElementById(regionId);
  if (!region) { return; }
  region.replaceChildren();
  if (!words) { return; }
  const p = document.createElement("p");
  p.className = "flash " + kind;
  if (kind === "error") { p.id = "form-message"; }
  p.textContent = words;
  region.append(p);
}
function alertText(words) { say("form-alert", "error", words); if (words) { say("form-status", "info", ""); } }
function statusText(words) { say("form-status", "info", words); }

function fieldKey(group) { return group.id.replace(/^q_/, "").replace(/-group$/, ""); }

// "Prefer not to say" (offered only where the bank marks an item, label.prefer-not) is an
// answer, sent as the value the page gives it; every other answer is a number.
function answerValue(input) {
  return input.closest("label.prefer-not") ? input.value : Number(input.value);
}

function chosen() {
  const answers = {};
  form.querySelectorAll("fieldset.question input:checked").forEach(function (input) {
    answers[input.name.replace(/^q_/, "")] = answerValue(input);
  });
  return answers;
}

function unanswered() {
  const missing = {};
  form.querySelectorAll("fieldset.question").forEach(function (group) {
    if (!group.querySelector("input:checked")) { missing[fieldKey(group)] = "required"; }
  });
  return missing;
}

function restore(answers, comment) {
  let any = false;
  Object.keys(answers || {}).forEach(function (key) {
    const group = document.getElementById("q_" + key + "-group");
    if (!group || group.querySelector("input:checked")) { return; } // never undo a choice
    const input = Array.from(group.querySelectorAll("input[type=radio]")).find(function (radio) {
      return radio.value === String(answers[key]);
    });
    if (input) { input.checked = true; any = true; }
  });
  if (commentBox && typeof comment === "string" && comment && !commentBox.value) {
    commentBox.value = comment;
    any = true;
  }
  if (any) { form.dispatchEvent(new Event("change")); } // progress (survey.js); not a check-in
  return any;
}

// Mark the questions in ``errors`` (item key -> reason) the way the server does: a message
// under the legend, named by the group's description, and the group outlined.
function markQuestions(errors) {
  form.querySelectorAll("fieldset.question").forEach(function (group) {
    const key = fieldKey(group);
    const name = "q_" + key;
    group.querySelectorAll(":scope > p.error").forEach(function (old) { old.remove(); });
    group.classList.toggle("has-error", Boolean(errors[key]));
    const described = [];
    if (errors[key]) {
      const note = document.createElement("p");
      note.className = "error";
      note.id = name + "-error";
      note.textContent = text("msgRequired");
      group.querySelector("legend").after(note);
      described.push(note.id);
    }
    const scale = group.querySelector(":scope > p.scale-note");
    if (scale && scale.id) { described.push(scale.id); }
    if (described.length) { group.setAttribute("aria-describedby", described.join(" ")); }
    else { group.removeAttribute("aria-describedby"); }
  });
  return Object.keys(errors).filter(function (key) {
    return document.getElementById("q_" + key + "-group");
  }).length;
}

// Show or clear the message of the code field (as the server's field macro renders it).
function markToken(words) {
  if (!token) { return; }
  const field = token.closest(".field");
  let note = document.getElementById(token.id + "-error");
  if (!words) {
    if (note) { note.remove(); }
    if (field) { field.classList.remove("has-error"); }
    token.removeAttribute("aria-invalid");
    token.removeAttribute("aria-describedby");
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.className = "error";
    note.id = token.id + "-error";
    token.after(note);
  }
  note.textContent = words;
  if (field) { field.classList.add("has-error"); }
  token.setAttribute("aria-invalid", "true");
  token.setAttribute("aria-describedby", note.id);
  if (tokenBox) { tokenBox.hidden = false; }
}

function countMessage(count) {
  return count === 1 ? text("msgErrorsOne") : text("msgErrorsOther").replace("{count}", String(count));
}

// Show what needs attention before anything is sent; focus the first place to fix.
function showProblems(questionErrors, tokenWords) {
  markToken(tokenWords);
  const count = markQuestions(questionErrors) + (tokenWords ? 1 : 0);
  alertText(countMessage(count));
  const first = tokenWords ? token : form.querySelector("fieldset.has-error input");
  if (first) { first.focus(); }
}

// The server's verdict on the answers (400): item key -> reason, perhaps "comment".
function showAnswerErrors(errors) {
  const questions = Object.assign({}, errors);
  delete questions.comment;
  let count = markQuestions(questions);
  const note = document.getElementById("comment-error");
  if (note) { note.remove(); }
  if (errors.comment && commentBox) {
    const p = document.createElement("p");
    p.className = "error";
    p.id = "comment-error";
    p.textContent = text("msgComment");
    commentBox.after(p);
    commentBox.setAttribute("aria-describedby", "comment-hint comment-error");
    count += 1;
  } else if (commentBox) {
    commentBox.setAttribute("aria-describedby", "comment-hint");
  }
  alertText(countMessage(Math.max(count, 1)));
  const first = form.querySelector("fieldset.has-error input") || (errors.comment ? commentBox : null);
  if (first) { first.focus(); }
}

function codeProblem(code) {
  if (!code) { return text("msgMissing"); }
  return CODE.test(code) ? "" : text("msgInvalid");
}

async function post(url, body) {
  const reply = await fetch(url, {
    method: "POST",
    credentials: "omit",
    cache: "no-store",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await reply.json(); } catch (e) { data = {}; }
  return { status: reply.status, data: data || {} };
}

// Keep the code in this tab until the ballot is accepted (survey.js reads it after a reload).
function keepCode(code) {
  try {
    const tab = window.sessionStorage;
    const name = "candor-code-" + form.dataset.round;
    if (code) { tab.setItem(name, code); } else { tab.removeItem(name); }
  } catch (e) { /* blocked: a reload then needs the link again */ }
}

// The answers are in: put the thanks this page carries (the thanks page's words; the actions
// are on both) where the form was, under the thanks page's address, so a reload shows the
// same. No request is made: the form, its answers and the code leave the page.
function thank(next) {
  const body = document.getElementById("survey-body");
  const thanks = document.getElementById("thanks");
  if (!body || !thanks) { window.location.assign(next); return; }
  if (token) { token.value = ""; }
  body.remove();
  thanks.hidden = false;
  if (thanks.dataset.title) { document.title = thanks.dataset.title; }
  history.replaceState(null, "", next);
  const heading = thanks.querySelector("h1");
  if (heading) { heading.focus(); }
}

// --- one code's ballot ---------------------------------------------------------------------

async function ballotFor(code) {
  const keyId = Number(code.split(".")[0]);
  const keeper = new Keeper(form.dataset.round, code);
  await keeper.open();
  const record = await keeper.load();
  let publicKey = null;
  let fetching = null;
  let checking = null;
  let sending = false;
  let refused = false; // the server said this code does not work: ask again only on send

  // The public key of this code's group; null when the server knows no such key, CLOSED
  // when the round has closed. From the keys the page carries, when it carries them (then a
  // code whose key is not among them is unknown); else asked for.
  function key() {
    if (publicKey) { return Promise.resolve(publicKey); }
    if (!fetching) {
      fetching = (async function () {
        let fields = null;
        const carried = carriedKeys();
        if (carried) {
          const id = String(keyId);
          fields = Object.prototype.hasOwnProperty.call(carried, id) ? carried[id] : null;
          if (!fields) { return null; }
        } else {
          const url = text("keyUrl").replace("{key}", String(keyId));
          const reply = await fetch(url, { credentials: "omit", cache: "no-store" });
          if (reply.status === 404) { return null; }
          if (reply.status === 410) { return CLOSED; }
          if (!reply.ok) { throw new Error("retry"); }
          fields = await reply.json();
        }
        publicKey = await importPublicKey({ n: fields.n, e: fields.e });
        const print = document.getElementById("ballot-fingerprint");
        if (print) {
          print.textContent = print.dataset.template.replace("{fingerprint}", fields.fingerprint);
          print.hidden = false;
        }
        const mode = document.getElementById("ballot-mode");
        if (mode) { mode.hidden = false; }
        return publicKey;
      })().finally(function () { fetching = null; });
    }
    return fetching;
  }

  function remember() {
    record.answers = chosen();
    record.comment = commentBox ? commentBox.value : "";
    return keeper.save(record);
  }

  // Check in once: blind a fresh random message for this code's ballot key, keep the blinding
  // first (a check-in whose reply was lost is repeated with the same blinded message), then
  // keep the credential. Returns "ok", "unusable" or "closed"; throws when it may be retried.
  async function checkIn() {
    const pk = await key();
    if (!pk) { return "unusable"; }
    if (pk === CLOSED) { return "closed"; }
    // Another tab with the same link may have checked in, or blinded, already: use its work,
    // since a second blinding would be refused (the invitation is consumed once).
    const kept = await keeper.load();
    if (kept.signature && kept.message) {
      record.message = kept.message;
      record.signature = kept.signature;
      delete record.blinded;
      delete record.inv;
      return "ok";
    }
    if (kept.blinded && kept.inv && kept.message) {
      record.message = kept.message;
      record.blinded = kept.blinded;
      record.inv = kept.inv;
    }
    if (!record.blinded || !record.inv || !record.message) {
      const msg = prepare(crypto.getRandomValues(new Uint8Array(32)));
      const blinded = await blind(pk, msg);
      record.message = b64urlEncode(msg);
      record.blinded = b64urlEncode(blinded.blindedMsg);
      record.inv = b64urlEncode(blinded.inv);
      await keeper.save(record); // kept before it is sent
    }
    const reply = await post(text("checkinUrl"), { code: code, blinded: record.blinded });
    if (reply.status === 404) { return "unusable"; }
    if (reply.status === 410) { return "closed"; }
    if (reply.status !== 200 || typeof reply.data.blind_signature !== "string") {
      const retry = new Error("retry");
      retry.busy = reply.status === 503;
      throw retry;
    }
    const sig = await finalize(pk, b64urlDecode(record.message),
      b64urlDecode(reply.data.blind_signature), b64urlDecode(record.inv));
    record.signature = b64urlEncode(sig);
    delete record.blinded;
    delete record.inv;
    await keeper.save(record);
    return "ok";
  }

  function checkedIn() {
    if (record.signature && record.message) { return Promise.resolve("ok"); }
    if (!checking) { checking = checkIn().finally(function () { checking = null; }); }
    return checking;
  }

  // The code does not work: say so, show the code box (a person may have a second link, or
  // may have mistyped it) and keep every answer on the page.
  function unusable(sent) {
    refused = true;
    markToken(text("msgInvalid"));
    alertText(sent ? text("msgNotSaved") : text("msgInvalid"));
    if (sent) { token.focus(); }
  }

  function closed() {
    alertText(text("msgClosed"));
  }

  async function castBallot(answers, comment) {
    return post(text("ballotUrl"), {
      key_id: keyId,
      message: record.message,
      signature: record.signature,
      answers: answers,
      comment: comment,
      lang: lang ? lang.value : "",
    });
  }

  async function send() {
    await remember();
    const missing = unanswered();
    if (Object.keys(missing).length) { showProblems(missing, ""); return; }
    markQuestions({});
    const state = await checkedIn();
    if (state === "unusable") { unusable(true); return; }
    if (state === "closed") { closed(); return; }
    markToken("");
    const attempt = { answers: record.answers, comment: record.comment };
    const same = function (a, b) { return JSON.stringify(a) === JSON.stringify(b); };
    // Every ballot sent without a reply is kept: one of them may have been accepted although
    // its reply never arrived. The same ballot again is told "already recorded"; a changed one
    // is refused (one voice each), and then the one that was accepted stands.
    const earlier = (record.tries || []).filter(function (t) { return !same(t, attempt); });
    record.tries = earlier.concat([attempt]).slice(-MAX_TRIES);
    await keeper.save(record);
    let reply = await castBallot(attempt.answers, attempt.comment);
    for (let i = earlier.length - 1; reply.status === 403 && i >= 0; i -= 1) {
      reply = await castBallot(earlier[i].answers, earlier[i].comment);
    }
    if (reply.status === 200) {
      await keeper.forget();
      keepCode("");
      thank(reply.data.next || form.action + "/done");
      return "left";
    }
    if (reply.status === 400 && reply.data.errors) {
      // Refused as a whole: nothing was stored.
      record.tries = record.tries.filter(function (t) { return !same(t, attempt); });
      await keeper.save(record);
      showAnswerErrors(reply.data.errors);
      return;
    }
    if (reply.status === 403 || reply.status === 404) {
      await keeper.forget();
      unusable(true);
      return;
    }
    if (reply.status === 410) { closed(); return; }
    if (reply.status === 503) { alertText(text("msgBusy")); return; }
    throw new Error("retry");
  }

  // Start: fetch the key (shows the fingerprint; changes nothing on the server) and bring
  // back what this browser kept for this code.
  key().catch(function () { /* offline: tried again at check-in */ });
  if (restore(record.answers, record.comment)) { statusText(text("msgResumed")); }
  if (Object.keys(chosen()).length || (commentBox && commentBox.value)) { remember(); }

  // Back from the thanks page out of the back/forward cache: the page works again.
  window.addEventListener("pageshow", function (event) { if (event.persisted) { sending = false; } });

  return {
    // A choice or a comment changed. Keep it; check in when a person did it.
    changed: function (event) {
      remember();
      if (!event.isTrusted || refused) { return; }
      checkedIn().then(function (state) {
        if (state === "unusable") { unusable(false); }
        if (state === "closed") { closed(); }
      }).catch(function () { /* offline or busy: the send tries again */ });
    },
    typed: remember,
    send: async function () {
      if (sending) { return; }
      sending = true;
      let left = false;
      try {
        left = (await send()) === "left";
      } catch (e) {
        alertText(text(e && e.busy ? "msgBusy" : "msgNetwork"));
      } finally {
        if (!left) { sending = false; }
      }
    },
  };
}

// --- wiring ----------------------------------------------------------------------------------

// This browser cannot make the unlinkable ballot (no WebCrypto, or it failed): say that the
// form goes to the server, which does both steps (or refuses, if the programme requires it).
function fallBack() {
  const notice = document.getElementById("ballot-fallback");
  if (notice) { notice.hidden = false; }
  return null;
}

// One ballot per code in the code field; a different code (typed by hand after a link did not
// work) starts its own, and the answers on the page go with it.
let current = null;
function begin() {
  const code = token ? token.value.trim() : "";
  if (current && current.code === code) { return current; }
  if (current) { markToken(""); } // a new code: the old one's message no longer applies
  if (CODE.test(code)) { keepCode(code); }
  current = {
    code: code,
    valid: CODE.test(code),
    ready: CODE.test(code) ? ballotFor(code).catch(fallBack) : Promise.resolve(null),
  };
  return current;
}

if (form && form.dataset.ballotUrl && window.crypto && window.crypto.subtle && window.fetch) {
  // Take over the submit button at once, before anything asynchronous, so a quick click never
  // falls through to the server-side path.
  let typing = null;
  form.addEventListener("change", function (event) {
    if (event.target === token) { begin(); return; }
    begin().ready.then(function (ballot) { if (ballot) { ballot.changed(event); } });
  });
  form.addEventListener("input", function (event) {
    if (event.target !== commentBox) { return; }
    window.clearTimeout(typing);
    typing = window.setTimeout(function () {
      begin().ready.then(function (ballot) { if (ballot) { ballot.typed(); } });
    }, SAVE_DELAY_MS);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const session = begin();
    if (!session.valid) {
      showProblems(unanswered(), codeProblem(session.code));
      return;
    }
    session.ready.then(function (ballot) {
      // No ballot although the code is well formed: this browser's crypto or storage failed.
      // The server does both steps then (and refuses, if the programme requires unlinkable
      // ballots); the notice says which mode this is.
      if (ballot) { ballot.send(); } else { form.submit(); }
    });
  });
  begin();
} else if (form) {
  fallBack();
}
