// The coding view: draws the codings of one transcript, turns text selections into codings and
// saves every change through the REST API at once, without reloading the page.
//
// Offsets. The server counts code points (a Python str index); JavaScript strings count UTF-16
// units. Every offset kept here is an absolute code point offset into the document, as the
// server has it; a Turn converts to and from UTF-16 only when it touches its own DOM text.
//
// Safety. Transcript text only ever reaches the page through textContent and text nodes.
//
// Saving. Changes are drawn at once (optimistically) and sent one after another through a
// single queue, so a quick create-then-remove can never race; a refused change is undone on
// the page and the server's reason is shown in the status line. A coding that could not be
// saved or removed because the server or its database was unavailable is sent again, with the
// same Idempotency-Key, after a wait the status line announces: it is done once.

performance.mark("wb-start"); // with "wb-draw" below: the cost of drawing, for profiling
const data = JSON.parse(document.getElementById("wb-data").textContent);
const transcript = document.getElementById("wb-transcript");
const statusLine = document.getElementById("wb-status-line");
const undoButton = document.getElementById("wb-undo");
const suggestButton = document.getElementById("wb-suggest");
const pop = document.getElementById("wb-pop");
const popQuote = pop.querySelector(".wb-pop-quote");
const popTitle = pop.querySelector(".wb-pop-title");
const filterInput = document.getElementById("wb-filter");
const codeList = document.getElementById("wb-codes");
const detail = document.getElementById("wb-detail");
const detailList = detail.querySelector(".wb-detail-list");
const detailTitle = detail.querySelector(".wb-pop-title");

const STRIPE = 4; // px per stacked underline (3px colour + 1px gap)
const MAX_QUOTE = 140;
const KEYBOARD_HINT = "Select some words first: → selects a word, Shift+→ adds the next.";

// Colours go into inline styles: accept only #RRGGBB (the model's rule), grey otherwise.
const safeColour = (value) => (/^#[0-9a-f]{6}$/i.test(value || "") ? value : "#777777");
const codes = new Map(
  data.codes.map((code) => [code.id, { ...code, colour: safeColour(code.colour) }]),
);
const codable = Array.from(codes.values()).filter((code) => code.codable);
const byShortcut = new Map(codable.filter((c) => c.shortcut).map((c) => [String(c.shortcut), c]));
const sentences = data.sentences; // [[start, end], ...] in document order

// --- Text and offsets -----------------------------------------------------------------------

const LETTER = /[\p{L}\p{N}\p{M}]/u;
const JOINER = /['’\-‐_]/u;
const SPACE = /\s/u;

class Turn {
  constructor(el, index) {
    this.el = el;
    this.index = index;
    this.utt = el.querySelector(".wb-utt");
    this.margin = el.querySelector(".wb-margin");
    this.start = Number(el.dataset.start);
    this.end = Number(el.dataset.end);
    this.text = this.utt.textContent;
    this.astral = /[\uD800-\uDFFF]/.test(this.text);
    this.codings = new Set();
    this.suggestions = new Set();
    this.drawn = false;
    this._cps = null;
    this._cpToU16 = null;
    if (this.chars().length !== this.end - this.start) {
      console.warn(`Turn ${el.id}: its text does not match its offsets.`);
    }
  }

  chars() {
    if (this._cps === null) this._cps = this.astral ? Array.from(this.text) : this.text;
    return this._cps;
  }

  // Local code point index -> UTF-16 index into this.text.
  u16(cp) {
    if (!this.astral) return cp;
    if (this._cpToU16 === null) {
      const table = new Uint32Array(this.chars().length + 1);
      let u = 0;
      this.chars().forEach((ch, i) => {
        table[i] = u;
        u += ch.length;
      });
      table[this.chars().length] = u;
      this._cpToU16 = table;
    }
    return this._cpToU16[Math.max(0, Math.min(cp, this._cpToU16.length - 1))];
  }

  // UTF-16 index -> local code point index (a position inside a surrogate pair rounds down).
  cp(u16) {
    if (!this.astral) return u16;
    this.u16(0);
    const table = this._cpToU16;
    let lo = 0;
    let hi = table.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (table[mid] <= u16) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  slice(start, end) {
    const a = Math.max(start, this.start) - this.start;
    const b = Math.min(end, this.end) - this.start;
    return this.text.slice(this.u16(a), this.u16(b));
  }

  // A DOM point (node, offset) -> absolute code point offset, clamped to this turn.
  offsetOf(node, offset) {
    const range = document.createRange();
    range.selectNodeContents(this.utt);
    let where;
    try {
      where = range.comparePoint(node, offset);
    } catch {
      return this.start;
    }
    if (where < 0) return this.start;
    if (where > 0) return this.end;
    range.setEnd(node, offset);
    return this.start + this.cp(range.toString().length);
  }

  // Absolute code point offset -> DOM point inside this turn's utterance.
  pointAt(offset) {
    let rest = this.u16(Math.max(0, Math.min(offset, this.end) - this.start));
    const walker = document.createTreeWalker(this.utt, NodeFilter.SHOW_TEXT);
    let last = null;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (rest <= node.length) return [node, rest];
      rest -= node.length;
      last = node;
    }
    return last ? [last, last.length] : [this.utt, 0];
  }
}

const turns = Array.from(transcript.querySelectorAll(".wb-turn"), (el, i) => new Turn(el, i));
turns.sort((a, b) => a.start - b.start);
turns.forEach((turn, i) => (turn.index = i));
const turnByElement = new Map(turns.map((turn) => [turn.el, turn]));

function turnOfNode(node) {
  const el = node && (node.nodeType === 1 ? node : node.parentElement);
  const turnEl = el && el.closest(".wb-turn");
  return turnEl && transcript.contains(turnEl) ? turnByElement.get(turnEl) : null;
}

// Every turn that [start, end) overlaps.
function turnsOver(start, end) {
  let lo = 0;
  let hi = turns.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (turns[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  const found = [];
  for (let i = lo; i < turns.length && turns[i].start < end; i++) found.push(turns[i]);
  return found;
}

function documentText(start, end) {
  return turnsOver(start, end)
    .map((turn) => turn.slice(start, end))
    .join(" … ");
}

function quote(start, end) {
  const text = documentText(start, end).replace(/\s+/g, " ").trim();
  return text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE - 1)}…` : text;
}

function isWordAt(chars, i) {
  if (i < 0 || i >= chars.length) return false;
  if (LETTER.test(chars[i])) return true;
  // "don't", "well-known": a joiner between two letters belongs to the word.
  const joined = LETTER.test(chars[i - 1] || "") && LETTER.test(chars[i + 1] || "");
  return joined && JOINER.test(chars[i]);
}

function trimSpan(chars, a, b) {
  while (a < b && SPACE.test(chars[a])) a++;
  while (b > a && SPACE.test(chars[b - 1])) b--;
  return [a, b];
}

// Grow [start, end) (absolute) to whole words, sentences or the turn. Null when nothing is left.
function snap(turn, start, end, mode) {
  const chars = turn.chars();
  let a = start - turn.start;
  let b = end - turn.start;
  if (mode === "turn") {
    [a, b] = trimSpan(chars, 0, chars.length);
  } else {
    if (a === b) {
      if (!isWordAt(chars, a) && !isWordAt(chars, a - 1)) return null;
    } else {
      [a, b] = trimSpan(chars, a, b);
      if (a === b) return null;
    }
    while (a > 0 && isWordAt(chars, a - 1) && (isWordAt(chars, a) || a === b)) a--;
    while (b < chars.length && isWordAt(chars, b) && (isWordAt(chars, b - 1) || a === b)) b++;
    if (mode === "sentence") {
      const [s, e] = sentenceSpan(turn.start + a, turn.start + Math.max(b, a + 1));
      if (s !== null) {
        a = Math.max(s, turn.start) - turn.start;
        b = Math.min(e, turn.end) - turn.start;
      } else {
        a = 0;
        b = chars.length;
      }
      [a, b] = trimSpan(chars, a, b);
    }
  }
  return a < b ? [turn.start + a, turn.start + b] : null;
}

// The union of the sentences that [start, end) touches.
function sentenceSpan(start, end) {
  let lo = 0;
  let hi = sentences.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sentences[mid][1] <= start) lo = mid + 1;
    else hi = mid;
  }
  let s = null;
  let e = null;
  for (let i = lo; i < sentences.length && sentences[i][0] < end; i++) {
    if (s === null) s = sentences[i][0];
    e = sentences[i][1];
  }
  return [s, e];
}

// --- Codings and suggestions held by the page -------------------------------------------------

let nextKey = 1;
const codings = new Map(); // key -> coding
const suggestions = new Map(); // key -> suggestion
const dirty = new Set();

function makeCoding(fields) {
  return {
    key: nextKey++,
    id: null,
    coder: data.user,
    consensus: data.consensus,
    created: null,
    memo: null,
    pending: false,
    ...fields,
  };
}

function addCoding(coding) {
  codings.set(coding.key, coding);
  coding.removed = false;
  for (const turn of turnsOver(coding.start, coding.end)) {
    turn.codings.add(coding);
    dirty.add(turn);
  }
}

function dropCoding(coding) {
  codings.delete(coding.key);
  coding.removed = true;
  for (const turn of turnsOver(coding.start, coding.end)) {
    turn.codings.delete(coding);
    dirty.add(turn);
  }
}

function touchCoding(coding) {
  for (const turn of turnsOver(coding.start, coding.end)) dirty.add(turn);
}

function addSuggestion(suggestion) {
  suggestions.set(suggestion.key, suggestion);
  for (const turn of turnsOver(suggestion.start, suggestion.end)) {
    turn.suggestions.add(suggestion);
    dirty.add(turn);
  }
}

function dropSuggestion(suggestion) {
  suggestions.delete(suggestion.key);
  for (const turn of turnsOver(suggestion.start, suggestion.end)) {
    turn.suggestions.delete(suggestion);
    dirty.add(turn);
  }
}

function findCoding(code, start, end) {
  for (const turn of turnsOver(start, end)) {
    for (const c of turn.codings) {
      if (c.code === code && c.start === start && c.end === end && c.coder === data.user) return c;
    }
  }
  return null;
}

function findCodingById(id) {
  for (const c of codings.values()) if (c.id === id) return c;
  return null;
}

function canEdit(coding) {
  if (!data.canCode) return false;
  return coding.consensus ? data.role === "owner" : coding.coder === data.user;
}

// --- Drawing --------------------------------------------------------------------------------

function flush() {
  for (const turn of dirty) drawTurn(turn);
  dirty.clear();
}

function swatch(colour, extraClass = "") {
  const el = document.createElement("span");
  el.className = `wb-swatch ${extraClass}`.trim();
  el.style.backgroundColor = colour;
  el.setAttribute("aria-hidden", "true");
  return el;
}

function drawTurn(turn) {
  const items = Array.from(turn.codings);
  const sugs = Array.from(turn.suggestions);
  if (!items.length && !sugs.length) {
    if (turn.drawn) {
      turn.utt.replaceChildren(document.createTextNode(turn.text));
      turn.margin.replaceChildren();
      turn.utt.style.removeProperty("--lanes");
      turn.drawn = false;
    }
    return;
  }
  turn.drawn = true;
  items.sort((x, y) => x.start - y.start || y.end - x.end || x.key - y.key);

  // Each coding keeps one lane (one underline height) across the whole turn.
  const lanes = new Map();
  const laneEnds = [];
  for (const c of items) {
    let lane = laneEnds.findIndex((end) => end <= c.start);
    if (lane < 0) {
      lane = laneEnds.length;
      laneEnds.push(0);
    }
    laneEnds[lane] = c.end;
    lanes.set(c, lane);
  }
  const laneCount = laneEnds.length;
  turn.utt.style.setProperty("--lanes", String(laneCount));

  const cuts = new Set([turn.start, turn.end]);
  for (const x of [...items, ...sugs]) {
    if (x.start > turn.start && x.start < turn.end) cuts.add(x.start);
    if (x.end > turn.start && x.end < turn.end) cuts.add(x.end);
  }
  const bounds = Array.from(cuts).sort((x, y) => x - y);
  const frag = document.createDocumentFragment();
  for (let i = 0; i + 1 < bounds.length; i++) {
    const a = bounds[i];
    const b = bounds[i + 1];
    const text = turn.slice(a, b);
    const over = items.filter((c) => c.start <= a && c.end >= b);
    const sugOver = sugs.filter((s) => s.start <= a && s.end >= b);
    if (!over.length && !sugOver.length) {
      frag.append(document.createTextNode(text));
      continue;
    }
    const mark = document.createElement("mark");
    mark.className = "wb-seg";
    mark.dataset.s = a;
    mark.dataset.e = b;
    mark.textContent = text;
    const names = [];
    if (over.length) {
      const layers = over.map((c) => {
        const colour = codes.get(c.code)?.colour || "#777777";
        const lift = (laneCount - 1 - lanes.get(c)) * STRIPE;
        const stripe = `linear-gradient(${colour}, ${colour})`;
        return `${stripe} 0 calc(100% - ${lift}px) / 100% 3px no-repeat`;
      });
      mark.style.background = [...layers, "var(--wb-tint)"].join(", ");
      mark.classList.add("wb-coded");
      if (over.some((c) => c.pending)) mark.classList.add("wb-pending");
      for (const c of over) names.push(codes.get(c.code)?.name || "?");
    }
    if (sugOver.length) {
      const first = sugOver[0];
      mark.classList.add("wb-sug");
      mark.style.setProperty("--sug", codes.get(first.code)?.colour || "#777777");
      const starting = sugOver.filter((s) => s.start === a);
      if (starting.length) {
        mark.classList.add("wb-sug-start");
        mark.dataset.sugLabel = starting
          .map((s) => `${codes.get(s.code)?.name || "?"}${s.machine ? ` ${percent(s.confidence)}` : ""}`)
          .join(", ");
      }
      if (sugOver.some((s) => s.end === b)) mark.classList.add("wb-sug-end");
      for (const s of sugOver) names.push(`suggested: ${codes.get(s.code)?.name || "?"}`);
    }
    mark.title = names.join(", ");
    frag.append(mark);
  }
  turn.utt.replaceChildren(frag);
  drawMargin(turn, items, sugs);
}

// Once saved, a coding loses its "saving" look without its turn's text being rebuilt, so a
// selection the coder has started meanwhile survives.
function settle(coding) {
  for (const turn of turnsOver(coding.start, coding.end)) {
    const busy = Array.from(turn.codings).filter((c) => c.pending);
    for (const mark of turn.utt.querySelectorAll("mark.wb-pending")) {
      const a = Number(mark.dataset.s);
      const b = Number(mark.dataset.e);
      if (!busy.some((c) => c.start <= a && c.end >= b)) mark.classList.remove("wb-pending");
    }
    for (const chip of turn.margin.querySelectorAll(".wb-chip.wb-pending")) {
      const c = codings.get(Number(chip.dataset.k));
      if (!c || !c.pending) chip.classList.remove("wb-pending");
    }
  }
}

function drawMargin(turn, items, sugs) {
  const chips = document.createDocumentFragment();
  for (const c of items) {
    const code = codes.get(c.code);
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "wb-chip";
    chip.dataset.k = c.key;
    chip.append(swatch(code?.colour || "#777777"));
    const name = document.createElement("span");
    name.className = "wb-chip-name";
    name.textContent = code?.name || "?";
    chip.append(name);
    if (data.layer !== "mine") {
      const who = document.createElement("span");
      who.className = "wb-chip-coder";
      who.textContent = c.coder;
      chip.append(who);
    }
    if (c.pending) chip.classList.add("wb-pending");
    chip.title = `${code?.path || "?"}: “${quote(c.start, c.end)}”`;
    chips.append(chip);
  }
  for (const s of sugs.sort((x, y) => x.start - y.start)) {
    const code = codes.get(s.code);
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "wb-chip wb-chip-sug";
    chip.dataset.sug = s.key;
    chip.style.setProperty("--sug", code?.colour || "#777777");
    const name = document.createElement("span");
    name.className = "wb-chip-name";
    name.textContent = `Suggested: ${code?.name || "?"}${s.machine ? ` ${percent(s.confidence)}` : ""}`;
    chip.append(name);
    if (s.machine) chip.classList.add("wb-chip-machine");
    const by = s.machine ? ` (${s.machine}, ${percent(s.confidence)} sure)` : "";
    chip.title = `${code?.path || "?"}: “${quote(s.start, s.end)}”${by} (accept or reject)`;
    chips.append(chip);
  }
  turn.margin.replaceChildren(chips);
}

// --- Status, undo and the save queue --------------------------------------------------------

let pending = 0;
let queue = Promise.resolve();
const undoStack = [];

function say(message, kind = "info") {
  statusLine.textContent = message;
  statusLine.dataset.kind = kind;
}

function readOnlyReason() {
  return data.role === "viewer"
    ? "Read only: viewers can read the codings but not change them."
    : "Read only: only the study's owners write the consensus layer.";
}

function codeName(id) {
  return codes.get(id)?.name || "that code";
}

// A machine's confidence (0..1) as a whole percentage.
function percent(value) {
  return `${Math.round(Number(value || 0) * 100)}%`;
}

// Run `work` after every earlier change has been answered. `work` throws to report a failure.
function enqueue(work, onError) {
  pending++;
  const run = queue.then(async () => {
    try {
      await work();
    } catch (error) {
      say(`Not saved: ${error.message}`, "error");
      if (onError) onError(error);
    } finally {
      pending--;
    }
  });
  queue = run;
  return run;
}

class ApiError extends Error {
  // `reason`: why the server did not answer, when trying again may help (a dropped
  // connection, a database restart); null when the server refused the change itself.
  constructor(message, reason = null) {
    super(message);
    this.reason = reason;
  }
}

// Waits before sending a change again after a failure that may pass; then it is given up.
const RETRY_DELAYS = [1000, 2000, 4000, 8000];

// A random key per change: sent again with it, the change is done once (Idempotency-Key).
// crypto.randomUUID exists only on https and localhost pages, getRandomValues everywhere.
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Every POST and DELETE carries an Idempotency-Key. With `retry`, a change the server could
// not complete (unreachable, 502-504) is sent again with the same key after a wait, saying so
// in the status line: the server does it once however often it arrives.
async function api(method, url, body, { retry = false } = {}) {
  const key = method === "POST" || method === "DELETE" ? newKey() : null;
  for (let attempt = 0; ; attempt++) {
    try {
      return await request(method, url, body, key);
    } catch (error) {
      if (!retry || !error.reason || attempt >= RETRY_DELAYS.length) throw error;
      const wait = RETRY_DELAYS[attempt];
      say(`Not saved yet: ${error.reason}. Trying again in ${wait / 1000} s…`, "error");
      await sleep(wait);
    }
  }
}

async function request(method, url, body, key) {
  const headers = {
    Accept: "application/json",
    "Content-Type": "application/json",
    "X-CSRFToken": data.csrf,
  };
  if (key) headers["Idempotency-Key"] = key;
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      "the server could not be reached; check the connection and try again.",
      "the server could not be reached",
    );
  }
  if (response.status === 204) return null;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    throw new ApiError(errorText(payload, response), transientReason(payload, response));
  }
  return payload;
}

function transientReason(payload, response) {
  if (payload && payload.code === "database_unavailable") return "the database was unavailable";
  if ([502, 503, 504].includes(response.status)) {
    return `the server answered ${response.status} ${response.statusText}`.trim();
  }
  return null;
}

function errorText(payload, response) {
  if (payload && typeof payload === "object") {
    if (typeof payload.detail === "string") return payload.detail;
    const parts = [];
    for (const [field, messages] of Object.entries(payload)) {
      const text = Array.isArray(messages) ? messages.join(" ") : String(messages);
      parts.push(field === "non_field_errors" ? text : `${field}: ${text}`);
    }
    if (parts.length) return parts.join("; ");
  }
  return `the server answered ${response.status} ${response.statusText}.`.trim();
}

function refreshUndo() {
  const last = undoStack[undoStack.length - 1];
  undoButton.disabled = !last || !data.canCode;
  undoButton.title = last ? `Undo: ${last.label} (Ctrl+Z)` : "Nothing to undo";
}

function record(entry) {
  undoStack.push(entry);
  if (undoStack.length > 200) undoStack.shift();
  refreshUndo();
}

function forget(predicate) {
  for (let i = undoStack.length - 1; i >= 0; i--) {
    if (predicate(undoStack[i])) undoStack.splice(i, 1);
  }
  refreshUndo();
}

function undo() {
  const entry = undoStack.pop();
  refreshUndo();
  if (!entry) {
    say("Nothing to undo.");
    return;
  }
  closePopover(false);
  closeDetail(false);
  entry.undo(entry);
}

// Later entries may point at a coding that an undo replaced with a new one (remove, then undo).
function relink(from, to) {
  for (const entry of undoStack) if (entry.coding === from) entry.coding = to;
}

window.addEventListener("beforeunload", (event) => {
  if (pending > 0) event.preventDefault();
});

// --- Changes ----------------------------------------------------------------------------------

// Returns the new coding (drawn at once, saved in the queue), or null if it already exists.
function createCoding(code, start, end, { recordUndo = true, restoreMemo = null } = {}) {
  const existing = findCoding(code, start, end);
  if (existing && existing.consensus === data.consensus) {
    say(`Already coded ${codeName(code)} here.`);
    return null;
  }
  const coding = makeCoding({ code, start, end, pending: true });
  addCoding(coding);
  for (const s of Array.from(suggestions.values())) {
    if (s.code === code && s.start === start && s.end === end) dropSuggestion(s);
  }
  flush();
  const label = `${codeName(code)} on “${quote(start, end)}”`;
  if (recordUndo) {
    record({
      label: `apply ${label}`,
      coding,
      undo: (entry) => removeCoding(entry.coding, { recordUndo: false }),
    });
  }
  say(`Saving ${label}…`);
  enqueue(
    async () => {
      const body = { document: data.document.id, code, start, end };
      if (data.consensus) body.consensus = true;
      const saved = await api("POST", data.urls.codings, body, { retry: true });
      const twin = findCodingById(saved.id);
      if (twin && twin !== coding) {
        // The server already had it (saved from another tab): keep one.
        dropCoding(coding);
        relink(coding, twin);
        flush();
      } else {
        coding.id = saved.id;
        coding.created = saved.created_at;
        coding.coder = saved.coder;
        coding.pending = false;
        settle(coding);
      }
      if (restoreMemo) {
        const memo = await api("POST", data.urls.memos, {
          study: data.study,
          coding: saved.id,
          text: restoreMemo,
        });
        coding.memo = coding.myMemo = memo.text;
        coding.myMemoId = memo.id;
      }
      say(`Saved: ${label}.`, "ok");
    },
    () => {
      if (coding.id !== null) return; // saved; only the memo failed
      dropCoding(coding);
      flush();
      forget((entry) => entry.coding === coding);
    },
  );
  return coding;
}

function removeCoding(coding, { recordUndo = true } = {}) {
  if (!coding || coding.removed) return;
  const { code, start, end } = coding;
  const memo = coding.myMemo ?? null;
  dropCoding(coding);
  flush();
  const label = `${codeName(code)} on “${quote(start, end)}”`;
  const entry = {
    label: `remove ${label}`,
    coding,
    undo: (self) => {
      const again = createCoding(code, start, end, { recordUndo: false, restoreMemo: memo });
      if (again) relink(self.coding, again);
    },
  };
  if (recordUndo) record(entry);
  say(`Removing ${label}…`);
  enqueue(
    async () => {
      if (coding.id === null) return; // its creation was refused: nothing to remove
      const url = `${data.urls.codings}${coding.id}/`;
      await api("DELETE", url, undefined, { retry: true });
      say(`Removed ${label}.`, "ok");
    },
    () => {
      addCoding(coding);
      flush();
      forget((e) => e === entry);
    },
  );
}

function recodeCoding(coding, code, { recordUndo = true } = {}) {
  if (!coding || coding.removed || coding.code === code) return;
  const from = coding.code;
  if (findCoding(code, coding.start, coding.end)) {
    say(`Already coded ${codeName(code)} on exactly this passage.`, "error");
    return;
  }
  coding.code = code;
  coding.pending = true;
  touchCoding(coding);
  flush();
  const label = `${codeName(from)} → ${codeName(code)} on “${quote(coding.start, coding.end)}”`;
  const entry = {
    label: `recode ${label}`,
    coding,
    undo: (self) => recodeCoding(self.coding, from, { recordUndo: false }),
  };
  if (recordUndo) record(entry);
  say(`Saving ${label}…`);
  enqueue(
    async () => {
      if (coding.id === null) return; // its creation was refused
      await api("PATCH", `${data.urls.codings}${coding.id}/`, { code });
      coding.pending = false;
      settle(coding);
      say(`Recoded: ${label}.`, "ok");
    },
    () => {
      coding.code = from;
      coding.pending = false;
      touchCoding(coding);
      flush();
      forget((e) => e === entry);
    },
  );
}

function decide(suggestion, verdict) {
  if (suggestion.busy) return;
  suggestion.busy = true;
  dropSuggestion(suggestion);
  flush();
  const label = `${codeName(suggestion.code)} on “${quote(suggestion.start, suggestion.end)}”`;
  say(verdict === "accepted" ? `Accepting ${label}…` : `Rejecting ${label}…`);
  enqueue(
    async () => {
      const answer = await api("POST", data.urls.decisions, {
        document: data.document.id,
        code: suggestion.code,
        start: suggestion.start,
        end: suggestion.end,
        verdict,
      });
      if (verdict === "accepted" && answer.coding && !data.consensus) {
        let coding = findCodingById(answer.coding.id);
        if (!coding) {
          coding = makeCoding({
            id: answer.coding.id,
            code: answer.coding.code,
            start: answer.coding.start,
            end: answer.coding.end,
            coder: answer.coding.coder,
            created: answer.coding.created_at,
          });
          addCoding(coding);
          flush();
        }
        record({
          label: `accept ${label}`,
          coding,
          undo: (entry) => removeCoding(entry.coding, { recordUndo: false }),
        });
        say(`Accepted: ${label}.`, "ok");
      } else {
        say(verdict === "accepted" ? `Accepted: ${label}.` : `Rejected: ${label}.`, "ok");
      }
    },
    () => {
      suggestion.busy = false;
      addSuggestion(suggestion);
      flush();
    },
  );
}

// "More like this": the coding becomes a positive example for the learned engine's next training.
function moreLikeThis(coding, control) {
  control.disabled = true;
  const label = `${codeName(coding.code)} on “${quote(coding.start, coding.end)}”`;
  enqueue(async () => {
    await api("POST", data.urls.steer, {
      document: data.document.id,
      code: coding.code,
      start: coding.start,
      end: coding.end,
      positive: true,
    });
    say(`Noted: more like ${label} in the next training.`, "ok");
  });
}

async function saveMemo(coding, text, button) {
  button.disabled = true;
  const trimmed = text.trim();
  say("Saving the memo…");
  await enqueue(async () => {
    try {
      if (coding.id === null) throw new ApiError("the coding is not saved yet.");
      if (coding.myMemoId && !trimmed) {
        await api("DELETE", `${data.urls.memos}${coding.myMemoId}/`);
        coding.myMemoId = null;
        coding.myMemo = null;
        coding.memo = null;
        say("Memo removed.", "ok");
      } else if (coding.myMemoId) {
        const memo = await api("PATCH", `${data.urls.memos}${coding.myMemoId}/`, { text });
        coding.myMemo = memo.text;
        coding.memo = memo.text;
        say("Memo saved.", "ok");
      } else if (trimmed) {
        const memo = await api("POST", data.urls.memos, {
          study: data.study,
          coding: coding.id,
          text,
        });
        coding.myMemoId = memo.id;
        coding.myMemo = memo.text;
        coding.memo = memo.text;
        say("Memo saved.", "ok");
      } else {
        say("Nothing to save: the memo is empty.");
      }
    } finally {
      button.disabled = false;
    }
  });
}

// --- Selections -------------------------------------------------------------------------------

function snapMode(event) {
  if (event && event.altKey && event.shiftKey) return "turn";
  if (event && event.altKey) return "sentence";
  return document.querySelector('input[name="wb-snap"]:checked')?.value || "word";
}

// The current selection as offsets in one turn: {turn, start, end, clamped} or null.
function readSelection() {
  const selection = window.getSelection();
  if (!selection || !selection.rangeCount) return null;
  let turn = turnOfNode(selection.anchorNode);
  let clamped = false;
  if (!turn) {
    turn = turnOfNode(selection.focusNode);
    if (!turn) return null;
    clamped = true;
  }
  const a = turn.offsetOf(selection.anchorNode, selection.anchorOffset);
  const f = turn.offsetOf(selection.focusNode, selection.focusOffset);
  if (turnOfNode(selection.focusNode) !== turn) clamped = true;
  return { turn, start: Math.min(a, f), end: Math.max(a, f), clamped, collapsed: a === f };
}

function selectSpan(turn, anchor, focus) {
  const [an, ao] = turn.pointAt(anchor);
  const [fn, fo] = turn.pointAt(focus);
  window.getSelection().setBaseAndExtent(an, ao, fn, fo);
}

function selectionRect() {
  const selection = window.getSelection();
  if (!selection.rangeCount) return null;
  const rects = selection.getRangeAt(0).getClientRects();
  return rects.length ? rects[rects.length - 1] : selection.getRangeAt(0).getBoundingClientRect();
}

// Open the codebook for the selection; `event` carries the modifiers of a mouse selection.
function codeSelection(event, { viaKeyboard = false } = {}) {
  const picked = readSelection();
  // A mouse selection outside the utterance (a speaker's name) touches none of its text.
  if (!picked || (picked.collapsed && !viaKeyboard)) return false;
  const { turn } = picked;
  if (!data.canCode) {
    say(readOnlyReason());
    return false;
  }
  if (!codable.length) {
    say("The codebook has no codes to apply yet.", "error");
    return false;
  }
  const mode = snapMode(event);
  const span = snap(turn, picked.start, picked.end, mode);
  if (!span) {
    say(viaKeyboard ? KEYBOARD_HINT : "Nothing to code there: select some words.");
    return false;
  }
  selectSpan(turn, span[0], span[1]);
  if (picked.clamped) {
    say("A coding stays within one turn: only the part in the turn where you started is kept.");
  }
  openPopover({ mode: "apply", turn, start: span[0], end: span[1] }, selectionRect(), turn.utt);
  return true;
}

function applyShortcut(digit) {
  const code = byShortcut.get(digit);
  if (!code) {
    say(`No code has the shortcut ${digit}.`);
    return;
  }
  const picked = readSelection();
  if (!picked || picked.collapsed) return;
  const span = snap(picked.turn, picked.start, picked.end, snapMode());
  if (!span) return;
  finishApply(picked.turn, span, code.id);
}

function finishApply(turn, span, codeId) {
  createCoding(codeId, span[0], span[1]);
  keyboard.turn = turn;
  keyboard.anchor = keyboard.focus = span[1];
  const selection = window.getSelection();
  selection.removeAllRanges();
  if (document.activeElement !== turn.utt) turn.utt.focus({ preventScroll: true });
}

// --- The codebook popover -------------------------------------------------------------------

let popState = null; // {mode: "apply"|"recode", turn, start, end, coding, returnTo}
let activeIndex = 0;
let shown = [];

// A codebook's dimensions ("Concept", "Domain") are its top-level codes that cannot be applied;
// the list groups the codes under them, in the codebook's order, so that the dimensions never
// mix. Codes outside any dimension come last, under "Other codes".
function rootOf(code) {
  let root = code;
  while (root.parent && codes.has(root.parent)) root = codes.get(root.parent);
  return root;
}
const topLevel = data.codes.filter((code) => !code.parent).map((code) => code.id);
const dimensionOf = new Map(
  codable.map((code) => {
    const root = rootOf(code);
    return [code.id, root.id !== code.id && !root.codable ? root : null];
  }),
);
const grouped = Array.from(dimensionOf.values()).some(Boolean);

function codeGroups(list) {
  const groups = new Map();
  for (const code of list) {
    const key = dimensionOf.get(code.id)?.id ?? "other";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(code);
  }
  const order = [...topLevel, "other"];
  return [...groups.entries()]
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([key, members]) => ({ dimension: key === "other" ? null : codes.get(key), members }));
}

function renderCodeList() {
  const query = filterInput.value.trim().toLocaleLowerCase();
  const matching = codable.filter(
    (code) =>
      !query ||
      code.name.toLocaleLowerCase().includes(query) ||
      code.path.toLocaleLowerCase().includes(query),
  );
  const groups = codeGroups(
    popState?.mode === "recode"
      ? matching.filter((code) => code.id !== popState.coding.code)
      : matching,
  );
  // The arrows walk the options in the order they are shown, group after group.
  shown = groups.flatMap((group) => group.members);
  activeIndex = Math.min(activeIndex, Math.max(0, shown.length - 1));
  const frag = document.createDocumentFragment();
  for (const group of groups) {
    let target = frag;
    if (grouped) {
      const box = document.createElement("li");
      box.setAttribute("role", "group");
      box.className = "wb-group";
      const head = document.createElement("span");
      head.className = "wb-group-head";
      head.id = `wb-group-${group.dimension?.id ?? "other"}`;
      head.textContent = group.dimension ? group.dimension.name : "Other codes";
      box.setAttribute("aria-labelledby", head.id);
      const list = document.createElement("ul");
      list.setAttribute("role", "none");
      box.append(head, list);
      frag.append(box);
      target = list;
    }
    for (const code of group.members) target.append(codeOption(code, group.dimension));
  }
  if (!shown.length) {
    const li = document.createElement("li");
    li.className = "wb-none";
    li.textContent = "No code matches.";
    frag.append(li);
  }
  codeList.replaceChildren(frag);
  moveActive(0);
}

function codeOption(code, dimension) {
  const li = document.createElement("li");
  li.id = `wb-opt-${code.id}`;
  li.setAttribute("role", "option");
  li.dataset.code = code.id;
  li.setAttribute("aria-selected", "false");
  li.append(swatch(code.colour));
  const key = document.createElement("kbd");
  key.className = "wb-key";
  key.textContent = code.shortcut ? String(code.shortcut) : "";
  if (!code.shortcut) key.setAttribute("aria-hidden", "true");
  li.append(key);
  const name = document.createElement("span");
  name.className = "wb-opt-name";
  name.textContent = code.name;
  li.append(name);
  // Where the code sits, below its group's heading (which already names the dimension).
  let where = code.path.slice(0, Math.max(0, code.path.length - code.name.length - 1));
  if (dimension) where = where.slice(dimension.name.length + 1);
  if (where) {
    const path = document.createElement("span");
    path.className = "wb-opt-path";
    path.textContent = where;
    li.append(path);
  }
  return li;
}

function moveActive(delta) {
  if (!shown.length) {
    filterInput.removeAttribute("aria-activedescendant");
    return;
  }
  activeIndex = (activeIndex + delta + shown.length) % shown.length;
  const items = codeList.querySelectorAll('[role="option"]');
  items.forEach((li, i) => li.setAttribute("aria-selected", i === activeIndex ? "true" : "false"));
  const active = items[activeIndex];
  filterInput.setAttribute("aria-activedescendant", active.id);
  active.scrollIntoView({ block: "nearest" });
}

function place(el, rect) {
  el.hidden = false;
  const width = el.offsetWidth;
  const height = el.offsetHeight;
  const r = rect || { left: 40, right: 40, top: 80, bottom: 80 };
  let left = Math.min(r.left, window.innerWidth - width - 12);
  left = Math.max(8, left);
  let top = r.bottom + 6;
  if (top + height > window.innerHeight - 8 && r.top - height - 6 > 8) top = r.top - height - 6;
  el.style.left = `${left + window.scrollX}px`;
  el.style.top = `${top + window.scrollY}px`;
}

// While the codebook has the focus the browser hides the selection: mark the passage being
// coded with a custom highlight instead (no DOM change), where the browser has the API.
const canHighlight = typeof Highlight === "function" && Boolean(globalThis.CSS?.highlights);

function showPick(turn, start, end) {
  if (!canHighlight) return;
  const range = document.createRange();
  range.setStart(...turn.pointAt(start));
  range.setEnd(...turn.pointAt(end));
  CSS.highlights.set("wb-pick", new Highlight(range));
}

function clearPick() {
  if (canHighlight) CSS.highlights.delete("wb-pick");
}

function openPopover(state, rect, returnTo) {
  closeDetail(false);
  popState = { ...state, returnTo };
  if (state.mode === "apply") showPick(state.turn, state.start, state.end);
  activeIndex = 0;
  filterInput.value = "";
  if (state.mode === "recode") {
    popTitle.textContent = `Recode ${codeName(state.coding.code)} as`;
    popQuote.textContent = `“${quote(state.coding.start, state.coding.end)}”`;
  } else {
    popTitle.textContent = "Apply a code";
    popQuote.textContent = `“${quote(state.start, state.end)}”`;
  }
  renderCodeList();
  place(pop, rect);
  filterInput.focus({ preventScroll: true });
}

function closePopover(restore = true) {
  if (pop.hidden) return;
  const state = popState;
  pop.hidden = true;
  popState = null;
  clearPick();
  if (restore && state?.returnTo) {
    state.returnTo.focus({ preventScroll: true });
    if (state.mode === "apply") selectSpan(state.turn, state.start, state.end);
  }
}

function choose(codeId) {
  const state = popState;
  if (!state) return;
  pop.hidden = true; // closed before saving: a second Enter or click cannot apply it twice
  popState = null;
  clearPick();
  if (state.mode === "recode") {
    recodeCoding(state.coding, codeId);
    if (state.returnTo?.isConnected) state.returnTo.focus({ preventScroll: true });
    else state.turn?.utt.focus({ preventScroll: true });
  } else {
    finishApply(state.turn, [state.start, state.end], codeId);
  }
}

filterInput.addEventListener("input", () => {
  activeIndex = 0;
  renderCodeList();
});

filterInput.addEventListener("keydown", (event) => {
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    moveActive(event.key === "ArrowDown" ? 1 : -1);
  } else if (event.key === "Enter") {
    event.preventDefault();
    if (shown[activeIndex]) choose(shown[activeIndex].id);
  } else if (event.key === "Escape") {
    event.preventDefault();
    closePopover(true);
  } else if (/^[1-9]$/.test(event.key) && !filterInput.value && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    const code = byShortcut.get(event.key);
    if (code && !(popState?.mode === "recode" && code.id === popState.coding.code)) choose(code.id);
    else say(`No code has the shortcut ${event.key}.`);
  } else if (event.key === "Tab") {
    event.preventDefault(); // the list is reached with the arrows; keep focus in the dialog
  }
});

codeList.addEventListener("mousedown", (event) => event.preventDefault());
codeList.addEventListener("click", (event) => {
  const li = event.target.closest('[role="option"]');
  if (li) choose(Number(li.dataset.code));
});

// --- The details panel ------------------------------------------------------------------------

let detailReturn = null;

function formatTime(iso) {
  if (!iso) return "just now";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  return when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function button(text, onClick, extra = "secondary") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = extra;
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function codingItem(coding) {
  const code = codes.get(coding.code);
  const li = document.createElement("li");
  li.className = "wb-item";
  const head = document.createElement("p");
  head.className = "wb-item-head";
  head.append(swatch(code?.colour || "#777777"));
  const name = document.createElement("strong");
  name.textContent = code?.name || "?";
  head.append(name);
  if (code && code.path !== code.name) {
    const path = document.createElement("span");
    path.className = "muted";
    path.textContent = ` ${code.path}`;
    head.append(path);
  }
  li.append(head);
  const meta = document.createElement("p");
  meta.className = "wb-item-meta muted";
  const who = coding.consensus ? `consensus, by ${coding.coder}` : `coded by ${coding.coder}`;
  meta.textContent = `${who} · ${formatTime(coding.created)}${coding.pending ? " · saving…" : ""}`;
  li.append(meta);
  const q = document.createElement("blockquote");
  q.textContent = quote(coding.start, coding.end);
  li.append(q);

  const editable = canEdit(coding);
  if (editable) {
    const actions = document.createElement("p");
    actions.className = "wb-item-actions";
    const recode = button("Recode…", () => {
      const rect = li.getBoundingClientRect();
      const turn = turnsOver(coding.start, coding.end)[0];
      openPopover({ mode: "recode", coding, turn }, rect, detailReturn);
    });
    const remove = button("Remove", () => {
      remove.disabled = true;
      closeDetail(false);
      removeCoding(coding);
      focusText(coding.start, coding.end);
    });
    remove.classList.add("danger");
    recode.disabled = remove.disabled = coding.id === null;
    actions.append(recode, remove);
    if (data.urls.steer && !coding.consensus) {
      const more = button("More like this", () => moreLikeThis(coding, more));
      more.disabled = coding.id === null;
      actions.append(more);
    }
    li.append(actions);

    const field = document.createElement("div");
    field.className = "wb-memo";
    const label = document.createElement("label");
    const areaId = `wb-memo-${coding.key}`;
    label.htmlFor = areaId;
    label.textContent = "Memo";
    const area = document.createElement("textarea");
    area.id = areaId;
    area.rows = 2;
    area.value = coding.myMemo ?? "";
    area.disabled = coding.id === null;
    const save = button("Save memo", () => saveMemo(coding, area.value, save));
    // Until the memos are loaded we cannot tell a new memo from an edit of an existing one.
    save.disabled = coding.id === null || !coding.memosLoaded;
    field.append(label, area, save);
    li.append(field);
    const others = document.createElement("div");
    others.className = "wb-memos";
    li.append(others);
    loadMemos(coding, area, others, save);
  } else if (coding.memo) {
    const memo = document.createElement("p");
    memo.className = "wb-memo-text";
    memo.textContent = `Memo: ${coding.memo}`;
    li.append(memo);
  }
  return li;
}

async function loadMemos(coding, area, others, save) {
  if (coding.id === null) return;
  if (coding.memosLoaded) {
    showOtherMemos(coding, others);
    return;
  }
  try {
    const answer = await api("GET", `${data.urls.memos}?coding=${coding.id}`);
    const memos = Array.isArray(answer) ? answer : answer.results || [];
    coding.otherMemos = [];
    for (const memo of memos) {
      if (memo.coding !== coding.id) continue;
      if (memo.author === data.user && !coding.myMemoId) {
        coding.myMemoId = memo.id;
        coding.myMemo = memo.text;
      } else {
        coding.otherMemos.push(memo);
      }
    }
    coding.memosLoaded = true;
    if (area.isConnected && !area.value) area.value = coding.myMemo || "";
    save.disabled = false;
    showOtherMemos(coding, others);
  } catch (error) {
    say(`Could not load the memos: ${error.message}`, "error");
  }
}

function showOtherMemos(coding, box) {
  box.replaceChildren();
  for (const memo of coding.otherMemos || []) {
    const p = document.createElement("p");
    p.className = "wb-memo-text";
    p.textContent = `${memo.author}: ${memo.text}`;
    box.append(p);
  }
}

function suggestionItem(suggestion) {
  const code = codes.get(suggestion.code);
  const li = document.createElement("li");
  li.className = "wb-item wb-item-sug";
  const head = document.createElement("p");
  head.className = "wb-item-head";
  head.append(swatch(code?.colour || "#777777", "wb-swatch-sug"));
  const name = document.createElement("strong");
  name.textContent = `Suggested: ${code?.name || "?"}`;
  head.append(name);
  if (code && code.path !== code.name) {
    const path = document.createElement("span");
    path.className = "muted";
    path.textContent = ` ${code.path}`;
    head.append(path);
  }
  li.append(head);
  if (suggestion.machine) {
    const meta = document.createElement("p");
    meta.className = "wb-item-meta muted";
    meta.textContent = `${suggestion.machine} · ${percent(suggestion.confidence)} sure`;
    li.append(meta);
  }
  const q = document.createElement("blockquote");
  q.textContent = quote(suggestion.start, suggestion.end);
  li.append(q);
  const actions = document.createElement("p");
  actions.className = "wb-item-actions";
  const answer = (verdict) => {
    accept.disabled = reject.disabled = true;
    closeDetail(false);
    decide(suggestion, verdict);
    focusText(suggestion.start, suggestion.end);
  };
  const accept = button("Accept", () => answer("accepted"), "");
  const reject = button(suggestion.machine ? "Reject (not this)" : "Reject", () =>
    answer("rejected"),
  );
  actions.append(accept, reject);
  // Every suggestion of this code from the same source, in one go.
  const same = Array.from(suggestions.values()).filter(
    (s) => s.code === suggestion.code && Boolean(s.machine) === Boolean(suggestion.machine),
  );
  if (same.length > 1) {
    const all = (verdict) => {
      closeDetail(false);
      for (const s of same) decide(s, verdict);
      focusText(suggestion.start, suggestion.end);
    };
    const name = codeName(suggestion.code);
    actions.append(
      button(`Accept all ${same.length} ${name}`, () => all("accepted")),
      button(`Reject all ${same.length} ${name}`, () => all("rejected")),
    );
  }
  li.append(actions);
  return li;
}

function openDetail(items, sugs, rect, returnTo) {
  closePopover(false);
  detailReturn = returnTo;
  const total = items.length + sugs.length;
  if (!total) return;
  detailTitle.textContent =
    items.length && sugs.length
      ? "Codings and suggestions here"
      : items.length
        ? items.length === 1
          ? "Coding"
          : `${items.length} codings here`
        : "Suggestion";
  const frag = document.createDocumentFragment();
  for (const c of items) frag.append(codingItem(c));
  for (const s of sugs) frag.append(suggestionItem(s));
  detailList.replaceChildren(frag);
  place(detail, rect);
  const first = detail.querySelector(".wb-item button, .wb-item textarea");
  (first || detail.querySelector(".wb-close")).focus({ preventScroll: true });
}

// After a change that redraws the margin, the keyboard focus goes back to the passage's turn.
function focusText(start, end) {
  const turn = turnsOver(start, end)[0];
  if (turn) turn.utt.focus({ preventScroll: true });
}

function closeDetail(restore = true) {
  if (detail.hidden) return;
  detail.hidden = true;
  detailList.replaceChildren();
  if (restore && detailReturn?.isConnected) detailReturn.focus({ preventScroll: true });
  detailReturn = null;
}

detail.querySelector(".wb-close").addEventListener("click", () => closeDetail(true));
detail.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    closeDetail(true);
  }
});

// --- Suggestions --------------------------------------------------------------------------------

let suggestionsOn = false;

async function toggleSuggestions() {
  suggestionsOn = !suggestionsOn;
  suggestButton.setAttribute("aria-pressed", String(suggestionsOn));
  suggestButton.textContent = suggestionsOn ? "Hide suggestions" : "Show suggestions";
  for (const s of Array.from(suggestions.values())) dropSuggestion(s);
  flush();
  if (!suggestionsOn) {
    say("Suggestions hidden.");
    return;
  }
  suggestButton.disabled = true;
  say("Looking for suggestions…");
  try {
    const answer = await api("GET", data.urls.suggestions);
    const found = answer?.suggestions || [];
    for (const s of found) {
      if (!codes.has(s.code) || findCoding(s.code, s.start, s.end)) continue;
      addSuggestion({ key: nextKey++, code: s.code, start: s.start, end: s.end, text: s.text });
    }
    // The machines' suggestions come least certain first: the most useful to check.
    const machine = (answer?.machine || []).filter(
      (s) => codes.has(s.code) && !findCoding(s.code, s.start, s.end),
    );
    machine.forEach((s, rank) => {
      addSuggestion({
        key: nextKey++,
        code: s.code,
        start: s.start,
        end: s.end,
        text: s.text,
        machine: s.machine,
        confidence: s.confidence,
        rank,
      });
    });
    flush();
    const n = suggestions.size;
    const first = machine[0];
    const check = first
      ? ` The least certain: ${codeName(first.code)} on “${quote(first.start, first.end)}” (${percent(first.confidence)}).`
      : "";
    say(
      n
        ? `${n} suggestion${n === 1 ? "" : "s"}, dashed: click one to accept or reject it.${check}`
        : "No suggestions: the codes' patterns and the machine coders suggest nothing you have not coded or rejected.",
    );
  } catch (error) {
    suggestionsOn = false;
    suggestButton.setAttribute("aria-pressed", "false");
    suggestButton.textContent = "Show suggestions";
    say(`Could not load suggestions: ${error.message}`, "error");
  } finally {
    suggestButton.disabled = false;
  }
}

// --- Keyboard selection inside a turn ----------------------------------------------------------

// A word-wise keyboard cursor: → selects the next word, Shift+→ adds a word, ↑/↓ change turns.
const keyboard = { turn: null, anchor: 0, focus: 0 };

function syncKeyboard(turn) {
  const picked = readSelection();
  if (picked && picked.turn === turn && !picked.clamped) {
    const selection = window.getSelection();
    keyboard.anchor = turn.offsetOf(selection.anchorNode, selection.anchorOffset);
    keyboard.focus = turn.offsetOf(selection.focusNode, selection.focusOffset);
  } else if (keyboard.turn !== turn) {
    keyboard.anchor = keyboard.focus = turn.start;
  }
  keyboard.turn = turn;
}

function wordAfter(chars, i) {
  while (i < chars.length && !isWordAt(chars, i)) i++;
  if (i >= chars.length) return null;
  let j = i;
  while (j < chars.length && isWordAt(chars, j)) j++;
  return [i, j];
}

function wordBefore(chars, i) {
  while (i > 0 && !isWordAt(chars, i - 1)) i--;
  if (i <= 0) return null;
  let j = i;
  while (j > 0 && isWordAt(chars, j - 1)) j--;
  return [j, i];
}

function extendWordwise(chars, a, f, forward) {
  if (forward && f >= a) return wordAfter(chars, f)?.[1] ?? f;
  if (!forward && f <= a) return wordBefore(chars, f)?.[0] ?? f;
  if (forward) {
    // Shrink a backward selection from its left edge by one word.
    const word = wordAfter(chars, f);
    if (!word) return a;
    if (word[0] > f) return Math.min(word[0], a);
    const next = wordAfter(chars, word[1]);
    return next ? Math.min(next[0], a) : a;
  }
  // Shrink a forward selection from its right edge by one word.
  const word = wordBefore(chars, f);
  if (!word) return a;
  if (word[1] < f) return Math.max(word[1], a);
  const prev = wordBefore(chars, word[0]);
  return prev ? Math.max(prev[1], a) : a;
}

function handleTurnKey(event, turn) {
  const key = event.key;
  const chars = turn.chars();
  const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
  if (key === "ArrowRight" || key === "ArrowLeft" || key === "Home" || key === "End") {
    syncKeyboard(turn);
    let a = keyboard.anchor - turn.start;
    let f = keyboard.focus - turn.start;
    const forward = key === "ArrowRight" || key === "End";
    if (key === "Home" || key === "End") {
      f = forward ? chars.length : 0;
      if (!event.shiftKey) a = f;
    } else if (event.shiftKey) {
      f = extendWordwise(chars, a, f, forward);
    } else {
      const lo = Math.min(a, f);
      const hi = Math.max(a, f);
      const word = forward ? wordAfter(chars, a === f ? lo : hi) : wordBefore(chars, lo);
      if (word) [a, f] = word;
    }
    keyboard.anchor = turn.start + a;
    keyboard.focus = turn.start + f;
    if (a === f) window.getSelection().collapse(...turn.pointAt(turn.start + a));
    else selectSpan(turn, turn.start + a, turn.start + f);
    event.preventDefault();
    return;
  }
  if ((key === "ArrowDown" || key === "ArrowUp") && !event.shiftKey) {
    const next = turns[turn.index + (key === "ArrowDown" ? 1 : -1)];
    event.preventDefault();
    if (next) focusTurn(next);
    return;
  }
  if ((key === "Enter" || key === "c") && plain) {
    event.preventDefault();
    syncKeyboard(turn);
    if (keyboard.anchor === keyboard.focus && snapMode() === "word") {
      say(KEYBOARD_HINT);
      return;
    }
    if (keyboard.anchor === keyboard.focus) {
      window.getSelection().collapse(...turn.pointAt(keyboard.anchor));
    }
    codeSelection(null, { viaKeyboard: true });
    return;
  }
  if (/^[1-9]$/.test(key) && plain && data.canCode) {
    const picked = readSelection();
    if (picked && !picked.collapsed && picked.turn === turn) {
      event.preventDefault();
      applyShortcut(key);
    }
    return;
  }
  if (key === "Escape") {
    window.getSelection().removeAllRanges();
    keyboard.anchor = keyboard.focus;
  }
}

function focusTurn(turn) {
  for (const t of turns) if (t.utt.tabIndex === 0 && t !== turn) t.utt.tabIndex = -1;
  turn.utt.tabIndex = 0;
  turn.utt.focus();
  keyboard.turn = turn;
  keyboard.anchor = keyboard.focus = turn.start;
  window.getSelection().removeAllRanges();
}

// --- Events: one delegated listener per kind on the transcript ----------------------------------

transcript.addEventListener("focusin", (event) => {
  const turn = turnOfNode(event.target);
  if (!turn || event.target !== turn.utt) return;
  for (const t of turns) if (t.utt.tabIndex === 0 && t !== turn) t.utt.tabIndex = -1;
  turn.utt.tabIndex = 0;
});

transcript.addEventListener("keydown", (event) => {
  const turn = turnOfNode(event.target);
  if (turn && event.target === turn.utt) handleTurnKey(event, turn);
});

// A press inside an existing selection leaves it unchanged until the browser clears it after
// the release: remember it, so such a click does not reopen the codebook.
let selectionAtPress = null;

function selectionKey() {
  const s = window.getSelection();
  return s && !s.isCollapsed ? [s.anchorNode, s.anchorOffset, s.focusNode, s.focusOffset] : null;
}

let pressMadeSelection = false; // the click that ends a drag must not open the details

transcript.addEventListener("mousedown", (event) => {
  if (event.button !== 0) return;
  selectionAtPress = selectionKey();
  pressMadeSelection = false;
});

transcript.addEventListener("mouseup", (event) => {
  if (event.button !== 0) return;
  const now = selectionKey();
  const before = selectionAtPress;
  selectionAtPress = null;
  if (!now || (before && now.every((part, i) => part === before[i]))) return;
  pressMadeSelection = true;
  const selection = window.getSelection();
  const turn = turnOfNode(selection.anchorNode) || turnOfNode(selection.focusNode);
  if (!turn) return;
  if (document.activeElement !== turn.utt) turn.utt.focus({ preventScroll: true });
  codeSelection(event);
});

transcript.addEventListener("click", (event) => {
  const chip = event.target.closest(".wb-chip");
  if (chip) {
    const rect = chip.getBoundingClientRect();
    if (chip.dataset.sug) {
      const s = suggestions.get(Number(chip.dataset.sug));
      if (s) openDetail([], [s], rect, chip);
    } else {
      const c = codings.get(Number(chip.dataset.k));
      if (c) openDetail([c], [], rect, chip);
    }
    return;
  }
  const mark = event.target.closest(".wb-seg");
  if (!mark || pressMadeSelection) return; // a drag was handled on mouseup
  const selection = window.getSelection();
  if (selection && !selection.isCollapsed) return;
  const turn = turnOfNode(mark);
  const a = Number(mark.dataset.s);
  const b = Number(mark.dataset.e);
  const items = Array.from(turn.codings).filter((c) => c.start <= a && c.end >= b);
  const sugs = Array.from(turn.suggestions).filter((s) => s.start <= a && s.end >= b);
  openDetail(items, sugs, mark.getBoundingClientRect(), turn.utt);
});

document.addEventListener("mousedown", (event) => {
  if (!pop.hidden && !pop.contains(event.target)) closePopover(false);
  if (!detail.hidden && !detail.contains(event.target)) closeDetail(false);
});

pop.addEventListener("focusout", (event) => {
  if (event.relatedTarget && !pop.contains(event.relatedTarget)) closePopover(false);
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !event.defaultPrevented) {
    if (!pop.hidden) closePopover(true);
    if (!detail.hidden) closeDetail(true);
    return;
  }
  const command = (event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey;
  if (!command || event.key.toLowerCase() !== "z") return;
  const target = event.target;
  if (target.closest?.("input, textarea, select, [contenteditable='true']")) return;
  event.preventDefault();
  undo();
});

undoButton.addEventListener("click", undo);

// --- Start --------------------------------------------------------------------------------------

for (const row of data.codings) {
  addCoding(makeCoding({
    id: row.id,
    code: row.code,
    coder: row.coder,
    start: row.start,
    end: row.end,
    consensus: row.consensus,
    created: row.created,
    memo: row.memo,
  }));
}
flush();
refreshUndo();

if (!data.urls.suggestions || !data.canCode || data.consensus) {
  suggestButton.hidden = true;
} else {
  suggestButton.addEventListener("click", toggleSuggestions);
}
if (!data.canCode) {
  undoButton.hidden = true;
  say(readOnlyReason());
} else if (data.codings.length) {
  say(`${data.codings.length} coding${data.codings.length === 1 ? "" : "s"} shown.`);
}
transcript.classList.add("wb-ready");
performance.measure("wb-draw", "wb-start");
