// The survey builder: drag a question by its handle (within or across pages) or a page by its
// handle, and the new order is posted; the Move up / Move down buttons do the same without
// JavaScript. On the question form, only the fields the chosen kind uses are shown.

const board = document.getElementById("builder");
const status = document.getElementById("builder-status");

function say(text) {
  if (status) status.textContent = text;
}

function currentOrder() {
  return [...board.querySelectorAll(":scope > .builder-page")].map((page) => ({
    page: page.dataset.page ? Number(page.dataset.page) : null,
    questions: [...page.querySelectorAll(".builder-question")].map((q) => Number(q.dataset.question)),
  }));
}

async function saveOrder() {
  say("Saving the new order…");
  const response = await fetch(board.dataset.moveUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": board.dataset.csrf },
    body: JSON.stringify({ pages: currentOrder() }),
    credentials: "same-origin",
  });
  if (response.ok) {
    say("The new order is saved.");
    return;
  }
  let message = "The new order could not be saved.";
  try {
    message = (await response.json()).error || message;
  } catch (_error) {
    // not JSON: keep the general message
  }
  say(message + " The page is reloaded with the order that was kept.");
  window.setTimeout(() => window.location.reload(), 2500);
}

function after(container, y, selector) {
  // The element the dragged one goes before: the first whose middle is below the pointer.
  return [...container.querySelectorAll(selector)].find((element) => {
    if (element.classList.contains("dragging")) return false;
    const box = element.getBoundingClientRect();
    return y < box.top + box.height / 2;
  });
}

function setUpDragging() {
  if (!board || !board.dataset.moveUrl) return;
  let dragged = null;
  board.addEventListener("dragstart", (event) => {
    const handle = event.target.closest(".handle");
    if (!handle) return;
    dragged = handle.closest(".builder-question") || handle.closest(".builder-page");
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.id);
    event.dataTransfer.setDragImage(dragged, 10, 10);
  });
  board.addEventListener("dragover", (event) => {
    if (!dragged) return;
    event.preventDefault();
    if (dragged.classList.contains("builder-question")) {
      const list = event.target.closest(".builder-page")?.querySelector(".builder-questions");
      if (!list) return;
      board.querySelectorAll(".drop-target").forEach((el) => el.classList.remove("drop-target"));
      list.classList.add("drop-target");
      const before = after(list, event.clientY, ".builder-question");
      list.querySelector(".builder-empty")?.remove();
      if (before) list.insertBefore(dragged, before);
      else list.appendChild(dragged);
    } else {
      const before = after(board, event.clientY, ":scope > .builder-page[data-page]:not([data-page=''])");
      const loose = board.querySelector(":scope > .builder-page[data-page='']");
      board.insertBefore(dragged, before || loose || null);
    }
  });
  board.addEventListener("drop", (event) => event.preventDefault());
  board.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    board.querySelectorAll(".drop-target").forEach((el) => el.classList.remove("drop-target"));
    dragged = null;
    saveOrder();
  });
}

function setUpKindFields() {
  const kind = document.querySelector(".question-form select[name=kind]");
  if (!kind) return;
  const fields = [...document.querySelectorAll(".question-form [data-kinds]")];
  const show = () => {
    for (const input of fields) {
      const wanted = input.dataset.kinds.split(" ").includes(kind.value);
      input.closest(".field").classList.toggle("kind-hidden", !wanted);
    }
  };
  const options = document.querySelector(".question-form textarea[data-defaults]");
  const defaults = options ? JSON.parse(options.dataset.defaults) : {};
  let previous = kind.value;
  kind.addEventListener("change", () => {
    // Untouched starting points follow the kind (Likert labels, matrix points).
    const untouched = options && (!options.value.trim() || options.value === defaults[previous]);
    if (untouched) options.value = defaults[kind.value] || "";
    previous = kind.value;
    show();
  });
  show();
}

function keepFocusAfterMoves() {
  // A Move up / Move down button reloads the page; focus comes back to the same button of the
  // moved item, so pressing Enter again moves it further.
  document.querySelectorAll(".move-form").forEach((form) =>
    form.addEventListener("submit", (event) => {
      if (event.submitter) sessionStorage.setItem("builder-moved", event.submitter.value);
    }),
  );
  const direction = sessionStorage.getItem("builder-moved");
  sessionStorage.removeItem("builder-moved");
  const item = direction && document.getElementById(window.location.hash.slice(1));
  if (!item || !["up", "down"].includes(direction)) return;
  const own = item.classList.contains("builder-page")
    ? item.querySelector(":scope > .builder-page-head")
    : item.querySelector(":scope > .builder-tools");
  const button = own?.querySelector(`button[value="${direction}"]`);
  // After the browser has scrolled to the item (which clears the focus), not before.
  if (button) window.addEventListener("load", () => requestAnimationFrame(() => button.focus()));
}

setUpDragging();
setUpKindFields();
keepFocusAfterMoves();
