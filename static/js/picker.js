// Searchable checkbox lists ([data-picker], the users of templates/groups/add_users.html): filter
// the rows by name, and count the checked boxes. Without JavaScript every row shows and the form
// works the same. The managed-policy pickers are static/js/policy_picker.js.
(function () {
  "use strict";
  document.querySelectorAll("[data-picker]").forEach((picker) => {
    const rows = Array.from(picker.querySelectorAll(".picker-row"), (row) => [row, row.textContent.trim().toLowerCase()]);
    const search = picker.querySelector("[data-picker-search]");
    const count = picker.querySelector("[data-picker-count]");
    if (search) {
      search.addEventListener("input", () => {
        const text = search.value.trim().toLowerCase();
        rows.forEach(([row, name]) => row.classList.toggle("d-none", !name.includes(text)));
      });
      // Enter in the search box must not submit the form.
      search.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });
    }
    picker.addEventListener("change", (event) => {
      if (count && event.target.type === "checkbox") {
        count.textContent = picker.querySelectorAll("input[type=checkbox]:checked").length;
      }
    });
  });
})();
