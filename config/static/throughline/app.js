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
