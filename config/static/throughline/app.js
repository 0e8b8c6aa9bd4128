// Throughline's page behaviour, as a static file: the Content Security Policy allows no inline
// script and no inline event handler (docs/security.md "Headers"). Delegated from the document,
// so rows and panels htmx swaps in later behave the same.

// <input type="checkbox" data-select-all> in a table head ticks every box of its table's body.
document.addEventListener("click", (event) => {
  const all = event.target.closest("input[data-select-all]");
  if (!all) return;
  for (const box of all.closest("table").querySelectorAll("tbody input[type=checkbox]")) {
    box.checked = all.checked;
  }
});

// <select data-autosubmit> submits its form when a choice is made.
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});

// <a data-export="csv"> inside a filter form: on click its link carries the form's current
// values (the filters htmx applied without reloading), so the file is the table on screen.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-export]");
  if (!link || !link.closest("form")) return;
  const form = link.closest("form");
  const params = new URLSearchParams(new FormData(form));
  params.delete("page");
  params.set("format", link.dataset.export);
  link.href = `${form.getAttribute("action") || window.location.pathname}?${params}`;
});

// <button data-print> prints the page (the invoice preview).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});

// A table wider than its card scrolls inside it (phones): it takes the keyboard focus, so it
// can be scrolled without a mouse (WCAG 2.1.1; axe "scrollable-region-focusable").
function focusableScrollers(root) {
  for (const table of root.querySelectorAll("table.table")) {
    if (table.scrollWidth > table.clientWidth + 1) table.setAttribute("tabindex", "0");
  }
  for (const block of root.querySelectorAll("pre")) block.setAttribute("tabindex", "0");
}
document.addEventListener("DOMContentLoaded", () => focusableScrollers(document));
document.addEventListener("htmx:afterSwap", (event) => focusableScrollers(event.target));
window.addEventListener("resize", () => focusableScrollers(document));
