// The Add user wizard's behaviour. Every step also works without JavaScript: this only
// hides what does not apply, filters and pages the groups and users tables, and adds rows.
// The policy pickers are static/js/policy_picker.js.
(function () {
  "use strict";
  const form = document.getElementById("wizard-form");
  if (!form) return;
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const show = (element, visible) => element && element.classList.toggle("d-none", !visible);

  // A second click on Next or Create must not submit twice.
  form.addEventListener("submit", () => {
    setTimeout(() => $$("button[type=submit]", form).forEach((b) => { b.disabled = true; }), 0);
  });

  // Enter in a field submits with the form's last button (Next), or in the Create group dialog
  // with the dialog's. The browser would use the first submit button, the dialog's even while
  // it is closed (Enter on a group's checkbox created the group typed in it earlier), or
  // Previous. Enter in a search box submits nothing (the boxes search on Enter themselves).
  form.addEventListener("keydown", (event) => {
    const field = event.target;
    if (event.key !== "Enter" || event.defaultPrevented || field.tagName !== "INPUT") return;
    if (["submit", "button", "reset", "image", "file"].includes(field.type)) return;
    event.preventDefault();
    if (field.type === "search") return;
    const dialog = field.closest(".modal");
    const buttons = $$("button[type=submit]", dialog || form).filter((b) => dialog || !b.closest(".modal"));
    const button = buttons[buttons.length - 1];
    if (button && !button.disabled) button.click();
  });

  // Step 1: more user names, and the console password options.
  const extras = $$(".js-extra");
  extras.forEach((row) => show(row, false));
  const addUser = $("#add-another-user");
  if (addUser) {
    addUser.addEventListener("click", () => {
      const next = extras.find((row) => row.classList.contains("d-none"));
      if (next) { show(next, true); $("input", next).focus(); }
      show(addUser, extras.some((row) => row.classList.contains("d-none")));
    });
  }
  const consoleBox = $("input[name$='-access_type'][value=console]");
  const syncPassword = () => {
    show($("#console-options"), consoleBox.checked);
    const custom = $("input[name$='-console_password'][value=custom]");
    show($("#custom-password"), custom && custom.checked);
  };
  if (consoleBox) {
    $$("input[name$='-access_type'], input[name$='-console_password']").forEach((i) => i.addEventListener("change", syncPassword));
    syncPassword();
  }

  // Step 2: only the chosen option's panel.
  const options = $$("input[name$='-option']");
  const syncOption = () => {
    const chosen = options.find((o) => o.checked);
    $$(".option-panel").forEach((panel) => show(panel, chosen && panel.dataset.option === chosen.value));
  };
  options.forEach((o) => o.addEventListener("change", syncOption));
  if (options.length) syncOption();

  // The groups and users tables: a text filter, pages, a count.
  function setUpTable(table) {
    const rows = $$("tbody tr[data-search]", table);
    const size = parseInt(table.dataset.pageSize || "0", 10);
    const search = $(`[data-filter-for='${table.id}']`);
    const count = $(`[data-count-for='${table.id}']`);
    const pager = document.createElement("nav");
    pager.className = "d-flex gap-2 align-items-center small";
    table.after(pager);
    let page = 0;
    const matching = () => rows.filter((row) =>
      !search || row.dataset.search.includes(search.value.trim().toLowerCase()));
    function render() {
      const found = matching();
      const pages = size ? Math.max(1, Math.ceil(found.length / size)) : 1;
      page = Math.min(page, pages - 1);
      rows.forEach((row) => show(row, false));
      found.slice(size ? page * size : 0, size ? (page + 1) * size : undefined).forEach((row) => show(row, true));
      if (count) count.textContent = found.length;
      pager.replaceChildren();
      if (pages > 1) {
        const button = (label, name, target, disabled) => {
          const b = document.createElement("button");
          b.type = "button"; b.className = "btn btn-sm btn-outline-secondary"; b.textContent = label; b.disabled = disabled;
          b.setAttribute("aria-label", name);
          b.addEventListener("click", () => { page = target; render(); });
          return b;
        };
        const where = document.createElement("span");
        where.textContent = `Page ${page + 1} of ${pages}`;
        pager.append(button("‹", "Previous page", page - 1, page === 0), where,
          button("›", "Next page", page + 1, page >= pages - 1));
      }
    }
    if (search) {
      search.addEventListener("input", () => { page = 0; render(); });
      // Enter in a search box filters (it already has): it must not submit the form.
      search.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });
    }
    table.addEventListener("change", render);
    render();
  }
  $$("table[data-page-size]").forEach(setUpTable);

  // The Create group dialog reopens with its errors.
  const dialog = $(".modal.show-on-load");
  if (dialog && window.bootstrap) window.bootstrap.Modal.getOrCreateInstance(dialog).show();
})();
