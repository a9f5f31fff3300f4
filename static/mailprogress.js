// Follow a round's invitations and reminders while they are sent: ask the page's status
// address (data-mail-status) every few seconds and update the counts, the progress bars and
// the send buttons in place, until no run is going. The words come from the server, so the
// page says the same with or without this script; without it, the page refreshes itself.
const POLL_MS = 2000;
const root = document.querySelector("[data-mail-status]");

function render(status) {
  for (const [kind, found] of Object.entries(status.kinds)) {
    const panel = root.querySelector(`[data-kind="${kind}"]`);
    if (!panel) { continue; }
    for (const field of panel.querySelectorAll("[data-field]")) {
      const text = String(found[field.dataset.field]);
      if (field.textContent !== text) { field.textContent = text; }
    }
    const bar = panel.querySelector("progress");
    if (bar) {
      bar.max = Math.max(found.total, 1);
      bar.value = found.sent;
      bar.textContent = `${found.sent} of ${found.total}`;
    }
    const button = panel.querySelector("button[data-send]");
    if (button) { button.disabled = !found.can_send; }
  }
}

async function poll() {
  let again = true;
  try {
    const response = await fetch(root.dataset.mailStatus, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    });
    const json = (response.headers.get("Content-Type") || "").startsWith("application/json");
    if (response.ok && json) {
      const status = await response.json();
      render(status);
      again = status.polling;
    } else {
      again = response.status >= 500; // a logged-out session or a refusal: stop asking
    }
  } catch {
    again = true; // the network or the server is down for a moment: keep asking
  }
  if (again) { window.setTimeout(poll, POLL_MS); }
}

if (root && root.dataset.polling === "true") { window.setTimeout(poll, POLL_MS); }
