// The recording beside a transcript, on the transcript page and in the coding view. Each timed
// turn's time is a button that plays the recording from there, and the turn being played is
// marked: an outline, a visible "Playing" label and aria-current, never colour alone. The page
// follows the playing turn while the reader is looking at it; once they scroll elsewhere it
// stops following until they come back or press a time.

const media = document.querySelector("[data-player]");
if (media) follow(media);

function follow(media) {
  const turns = Array.from(document.querySelectorAll("[data-start-ms]"), (el) => ({
    el,
    start: Number(el.dataset.startMs) / 1000,
    end: el.dataset.endMs === "" ? null : Number(el.dataset.endMs) / 1000,
  })).sort((a, b) => a.start - b.start);
  const label = document.createElement("span");
  label.className = "playing-label";
  label.textContent = "Playing";
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  let current = null;

  // The last turn that starts at or before `seconds`; none in a pause of over a second after a
  // turn's known end, so silence between turns marks nothing.
  function turnAt(seconds) {
    let low = 0;
    let high = turns.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (turns[middle].start <= seconds + 0.05) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0) return null;
    const turn = turns[found];
    return turn.end !== null && seconds > turn.end + 1 ? null : turn;
  }

  function onScreen(el) {
    const box = el.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  }

  function mark(turn, scroll) {
    if (turn === current) return;
    // Follow only a reader who was looking at the turn that was playing.
    const following = scroll || current === null || onScreen(current.el);
    if (current) {
      current.el.classList.remove("playing");
      current.el.removeAttribute("aria-current");
    }
    current = turn;
    if (!turn) {
      label.remove();
      return;
    }
    turn.el.classList.add("playing");
    turn.el.setAttribute("aria-current", "true");
    const button = turn.el.querySelector("[data-seek]");
    (button ? button.parentElement : turn.el).append(label);
    if (following && !onScreen(turn.el)) {
      turn.el.scrollIntoView({ block: "center", behavior: smooth ? "smooth" : "auto" });
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-seek]");
    if (!button) return;
    event.preventDefault();
    media.currentTime = Number(button.dataset.seek) / 1000;
    // A browser may refuse to play (no sound device, a blocked autoplay); seeking still worked.
    media.play()?.catch(() => {});
    mark(turns.find((t) => t.el.contains(button)) || turnAt(media.currentTime), true);
  });

  const update = () => mark(turnAt(media.currentTime), false);
  media.addEventListener("timeupdate", update);
  media.addEventListener("seeked", update);
}
