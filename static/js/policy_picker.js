// Managed-policy pickers ([data-policy-picker], templates/includes/policy_picker.html). The page
// holds the first page of policies and the selected ones; a search by name, the Type filter and
// the pager fetch a page from the search endpoint (users:policy_search). The selection is kept
// across pages and searches: a selected policy no row shows is a hidden input, so the form
// always sends every selected policy. A policy's JSON is fetched when its row is expanded.
(function () {
  "use strict";
  const SEARCH_DELAY_MS = 250;
  let rowIds = 0;

  function setUp(picker) {
    const $ = (selector) => picker.querySelector(selector);
    const rows = $("[data-picker-rows]");
    const kept = $("[data-picker-kept]");
    const search = $("[data-picker-search]");
    const type = $("[data-picker-type]");
    const previous = $("[data-picker-previous]");
    const next = $("[data-picker-next]");
    const where = $("[data-picker-where]");
    const status = $("[data-picker-status]");
    const summary = $("[data-picker-selected]");
    const prototype = $("template[data-picker-row]").content.firstElementChild;
    const multiple = picker.dataset.multiple === "true";
    const counts = Array.from(document.querySelectorAll(`[data-picker-count-for="${picker.dataset.id}"]`));
    // The selection, ARN → name, in the order chosen: what the server rendered checked or kept.
    const selected = new Map();
    picker.querySelectorAll("input[data-policy-name]").forEach((input) => {
      if (input.type === "hidden" || input.checked) selected.set(input.value, input.dataset.policyName);
    });
    let page = 1;
    let pages = parseInt(picker.dataset.pages, 10);
    let latest = 0;
    let timer = null;

    function syncSelection() {
      const shown = new Set(Array.from(rows.querySelectorAll("input[data-policy-name]"), (input) => input.value));
      kept.replaceChildren(...Array.from(selected).filter(([arn]) => !shown.has(arn)).map(([arn, name]) => {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = picker.dataset.name;
        input.value = arn;
        input.dataset.policyName = name;
        return input;
      }));
      summary.textContent = selected.size ? Array.from(selected.values()).join(", ") : "none";
      counts.forEach((count) => { count.textContent = selected.size; });
    }

    function row(policy) {
      const tr = prototype.cloneNode(true);
      const input = tr.querySelector("input");
      const label = tr.querySelector("label");
      const id = `${picker.dataset.id}-p${++rowIds}`;
      tr.dataset.policyArn = policy.arn;
      input.value = policy.arn;
      input.id = id;
      input.dataset.policyName = policy.name;
      input.checked = selected.has(policy.arn);
      label.htmlFor = id;
      label.textContent = policy.name;
      tr.querySelector("[data-picker-expand]").setAttribute("aria-label", `Show the policy JSON of ${policy.name}`);
      tr.querySelector("[data-picker-cell=type]").textContent = policy.type;
      tr.querySelector("[data-picker-cell=attachments]").textContent = policy.attachments;
      return tr;
    }

    function show(answer) {
      page = answer.page;
      pages = answer.pages;
      if (answer.rows.length) {
        rows.replaceChildren(...answer.rows.map(row));
      } else {
        const cell = document.createElement("td");
        cell.colSpan = 4;
        cell.className = "text-body-secondary";
        cell.textContent = "No policies match.";
        const empty = document.createElement("tr");
        empty.append(cell);
        rows.replaceChildren(empty);
      }
      where.textContent = `Page ${page} of ${pages} · ${answer.count} ${answer.count === 1 ? "policy" : "policies"}`;
      previous.disabled = page <= 1;
      next.disabled = page >= pages;
      syncSelection();
    }

    async function load(wanted) {
      clearTimeout(timer);
      const ticket = ++latest;
      const url = new URL(picker.dataset.searchUrl, window.location.href);
      url.searchParams.set("q", search.value.trim());
      url.searchParams.set("type", type.value);
      url.searchParams.set("page", wanted);
      status.textContent = "Loading…";
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const answer = await response.json();
        if (ticket !== latest) return; // a later search has been sent meanwhile
        show(answer);
        status.textContent = "";
      } catch (error) {
        if (ticket === latest) status.textContent = "The policies could not be loaded: try again.";
      }
    }

    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => load(1), SEARCH_DELAY_MS);
    });
    // Enter searches at once; it must not submit the form around the picker.
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); load(1); }
    });
    type.addEventListener("change", () => load(1));
    previous.addEventListener("click", () => load(page - 1));
    next.addEventListener("click", () => load(page + 1));

    rows.addEventListener("change", (event) => {
      const input = event.target;
      if (!input.dataset.policyName) return;
      if (!multiple) selected.clear();
      if (input.checked) selected.set(input.value, input.dataset.policyName);
      else selected.delete(input.value);
      syncSelection();
    });

    rows.addEventListener("click", async (event) => {
      const button = event.target.closest("[data-picker-expand]");
      if (!button) return;
      const tr = button.closest("tr");
      const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains("policy-json");
      button.setAttribute("aria-expanded", String(!open));
      if (open) { tr.nextElementSibling.remove(); button.textContent = "▸"; return; }
      button.textContent = "▾";
      const detail = document.createElement("tr");
      detail.className = "policy-json";
      const cell = document.createElement("td");
      cell.colSpan = tr.children.length;
      const pre = document.createElement("pre");
      pre.className = "small mb-0 policy-document";
      pre.textContent = "Loading…";
      cell.append(pre);
      detail.append(cell);
      tr.after(detail);
      const url = `${picker.dataset.documentUrl}?arn=${encodeURIComponent(tr.dataset.policyArn)}`;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        const body = await response.json();
        pre.textContent = response.ok ? JSON.stringify(body.document, null, 2) : body.error;
      } catch (error) {
        pre.textContent = "The policy document could not be loaded.";
      }
    });
    syncSelection();
  }

  document.querySelectorAll("[data-policy-picker]").forEach(setUp);
})();
