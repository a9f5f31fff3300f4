// Long lists of choices (a unit among thousands) get a search box just after them: type the
// start of a name and the list keeps only the choices that match, each with the units it sits
// in (shown indented above it) for context. The choices are only taken out of the list while
// a search is typed, never changed, so the form sends the same with or without this script,
// and a choice already made stays in the list. Enter picks the first match (in a list of one
// choice) and moves to the list; Escape clears the search.
const MIN_OPTIONS = 25; // shorter lists are quicker to read than to search
const INDENT = "— "; // how the unit choosers indent a unit below its parent

function depthOf(text) {
  let depth = 0;
  while (text.startsWith(INDENT, depth * INDENT.length)) { depth += 1; }
  return depth;
}

// A choice matches when every word typed begins one of its words: "res squad 1" finds
// "Lab/Research/Squad 12", not "Squad 01".
function words(text) {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

function labelOf(select) {
  const label = select.id ? document.querySelector(`label[for="${CSS.escape(select.id)}"]`) : null;
  return label ? label.textContent.trim() : "choices";
}

// Where one page has two lists of one name (the action list's filter and the new action's
// unit), a screen reader also hears where each search box is: its form's name, or the title
// of the section it sits in.
function placeOf(select) {
  const named = select.form && select.form.getAttribute("aria-label");
  if (named) { return named; }
  const summary = select.closest("details")?.querySelector(":scope > summary");
  return summary ? summary.textContent.trim() : "";
}

function enhance(select, options, number, place) {
  const box = document.createElement("span");
  box.className = "finder";
  const input = document.createElement("input");
  input.type = "search";
  input.id = `${select.id || `choices-${number}`}-find`;
  input.autocomplete = "off";
  const label = document.createElement("label");
  label.htmlFor = input.id;
  label.textContent = `Find in ${labelOf(select)}`;
  if (place) {
    const where = document.createElement("span");
    where.className = "visually-hidden";
    where.textContent = ` (${place})`;
    label.append(where);
  }
  const status = document.createElement("span");
  status.className = "finder-count";
  status.id = `${input.id}-count`;
  status.setAttribute("role", "status");
  input.setAttribute("aria-describedby", status.id);
  box.append(label, input, status);
  select.after(box);
  const total = options.filter((entry) => !entry.always).length;

  function apply() {
    const wanted = words(input.value);
    const ancestors = [];
    const kept = new Set();
    let matches = 0;
    let first = null;
    for (const entry of options) {
      ancestors.length = Math.min(ancestors.length, entry.depth);
      const match = !entry.always
        && wanted.every((word) => entry.words.some((own) => own.startsWith(word)));
      if (entry.always || match || entry.option.selected) { kept.add(entry); }
      if (match) {
        matches += 1;
        first = first || entry.option;
        for (const above of ancestors) { kept.add(above); }
      }
      ancestors.push(entry);
    }
    // Taken out rather than hidden: some browsers (Safari) show hidden options anyway. Taking
    // out and putting back moves what is chosen, so it is chosen again as it was.
    const chosen = new Set(options.filter((entry) => entry.option.selected));
    select.replaceChildren(...options.filter((entry) => kept.has(entry)).map((e) => e.option));
    for (const entry of options) { if (!chosen.has(entry)) { entry.option.selected = false; } }
    for (const entry of chosen) { entry.option.selected = true; }
    status.textContent = wanted.length ? `${matches} of ${total} match` : "";
    return first;
  }

  input.addEventListener("input", apply);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault(); // a search box never submits the form it sits in
      const first = apply();
      if (first && !select.multiple) { // in a list of many choices, Enter changes none
        select.value = first.value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
      select.focus();
    } else if (event.key === "Escape" && input.value) {
      event.preventDefault();
      input.value = "";
      apply();
    }
  });
}

const long = [];
for (const select of document.querySelectorAll("select:not([data-finder])")) {
  const options = [...select.options].map((option) => ({
    option,
    depth: depthOf(option.text),
    words: words(option.text),
    always: option.value === "", // "Any", "All": never taken out, and not counted
  }));
  if (options.filter((entry) => !entry.always).length >= MIN_OPTIONS) {
    long.push([select, options]);
  }
}
const names = long.map(([select]) => labelOf(select));
for (const [number, [select, options]] of long.entries()) {
  const shared = names.filter((name) => name === names[number]).length > 1;
  select.dataset.finder = "on";
  enhance(select, options, number + 1, shared ? placeOf(select) : "");
}
