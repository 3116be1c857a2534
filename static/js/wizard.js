// The Add user wizard's behaviour. Every step also works without JavaScript: this only
// hides what does not apply, filters and pages long tables, and adds rows.
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

  // Tables and lists: a text filter, a type filter, pages, a selected count.
  function setUpTable(table) {
    const rows = $$("tbody tr[data-search]", table);
    const size = parseInt(table.dataset.pageSize || "0", 10);
    const search = $(`[data-filter-for='${table.id}']`);
    const type = $(`[data-type-filter-for='${table.id}']`);
    const count = $(`[data-count-for='${table.id}']`);
    const selected = $(`[data-selected-for='${table.id}']`);
    const pager = document.createElement("nav");
    pager.className = "d-flex gap-2 align-items-center small";
    table.after(pager);
    let page = 0;
    const matching = () => rows.filter((row) =>
      (!search || row.dataset.search.includes(search.value.trim().toLowerCase())) &&
      (!type || !type.value || row.dataset.type === type.value));
    function render() {
      const found = matching();
      const pages = size ? Math.max(1, Math.ceil(found.length / size)) : 1;
      page = Math.min(page, pages - 1);
      rows.forEach((row) => show(row, false));
      found.slice(size ? page * size : 0, size ? (page + 1) * size : undefined).forEach((row) => show(row, true));
      if (count) count.textContent = found.length;
      if (selected) selected.textContent = $$("input:checked", table).length;
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
    [search, type].forEach((control) => control && control.addEventListener("input", () => { page = 0; render(); }));
    table.addEventListener("change", render);
    render();
  }
  $$("table[data-page-size]").forEach(setUpTable);

  function setUpOptionFilter(select) {
    const search = $(`[data-filter-for='${select.id}']`);
    const type = $(`[data-type-filter-for='${select.id}']`);
    const render = () => Array.from(select.options).forEach((option) => {
      option.hidden = !((!search || option.text.toLowerCase().includes(search.value.trim().toLowerCase())) &&
        (!type || !type.value || option.dataset.type === type.value));
    });
    [search, type].forEach((control) => control && control.addEventListener("input", render));
  }
  $$("select[multiple][id]").forEach(setUpOptionFilter);

  // A policy row expands to its JSON document, fetched when first opened.
  $$("button.expand[data-policy-arn]").forEach((button) => button.addEventListener("click", async () => {
    const row = button.closest("tr");
    const open = row.nextElementSibling && row.nextElementSibling.classList.contains("policy-json");
    if (open) { row.nextElementSibling.remove(); button.textContent = "▸"; return; }
    const detail = document.createElement("tr");
    detail.className = "policy-json";
    const cell = document.createElement("td");
    cell.colSpan = row.children.length;
    const pre = document.createElement("pre");
    pre.className = "small mb-0";
    pre.textContent = "Loading…";
    cell.append(pre); detail.append(cell); row.after(detail);
    button.textContent = "▾";
    const url = `${form.dataset.policyDocumentUrl}?arn=${encodeURIComponent(button.dataset.policyArn)}`;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      const body = await response.json();
      pre.textContent = response.ok ? JSON.stringify(body.document, null, 2) : body.error;
    } catch (error) {
      pre.textContent = "The policy document could not be loaded.";
    }
  }));

  // The Create group dialog reopens with its errors.
  const dialog = $(".modal.show-on-load");
  if (dialog && window.bootstrap) window.bootstrap.Modal.getOrCreateInstance(dialog).show();
})();
