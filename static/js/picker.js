// Searchable checkbox lists ([data-picker]): filter the rows by name and by type, and count
// the checked boxes. Without JavaScript every row shows and the form works the same.
(function () {
  "use strict";
  document.querySelectorAll("[data-picker]").forEach((picker) => {
    const rows = Array.from(picker.querySelectorAll(".picker-row"), (row) => [row, row.textContent.trim().toLowerCase()]);
    const search = picker.querySelector("[data-picker-search]");
    const type = picker.querySelector("[data-picker-type]");
    const count = picker.querySelector("[data-picker-count]");
    const filter = () => {
      const text = search ? search.value.trim().toLowerCase() : "";
      rows.forEach(([row, name]) => {
        const match = name.includes(text) && (!type || !type.value || row.dataset.type === type.value);
        row.classList.toggle("d-none", !match);
      });
    };
    [search, type].forEach((control) => control && control.addEventListener("input", filter));
    picker.addEventListener("change", (event) => {
      if (count && event.target.type === "checkbox") {
        count.textContent = picker.querySelectorAll("input[type=checkbox]:checked").length;
      }
    });
  });
})();
