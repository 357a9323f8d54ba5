// Small behaviours shared by every page, attached here rather than in inline event handlers,
// which the Content Security Policy forbids:
//   <input data-select-on-focus>          selects its whole value when focused (a token to copy);
//   <form data-confirm="Remove Bob?">      asks before it is submitted.
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) {
    field.select();
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
