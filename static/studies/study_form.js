// The new-study form: suggest a slug from the name until the user types one of their own.
(function () {
  const form = document.querySelector("form[data-slug-from][data-slug-to]");
  if (!form) return;
  const name = document.getElementById(form.dataset.slugFrom);
  const slug = document.getElementById(form.dataset.slugTo);
  if (!name || !slug) return;
  let own = slug.value !== "";
  slug.addEventListener("input", function () { own = slug.value !== ""; });
  name.addEventListener("input", function () {
    if (own) return;
    slug.value = name.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9\s-]/g, "").trim().replace(/[\s-]+/g, "-").slice(0, 44).replace(/-+$/, "");
  });
})();
