// Tag rows (the wizard's Add tags step, the Tags tab's Manage tags): Add new tag appends a row
// from the template, Remove blanks and hides one. Without JavaScript, the one empty row adds a
// tag per submit and clearing a row removes its tag.
(function () {
  "use strict";
  const addTag = document.getElementById("add-tag");
  if (!addTag) return;
  const total = document.querySelector("input[name$='-TOTAL_FORMS']");
  const body = document.querySelector("#tags-table tbody");
  addTag.addEventListener("click", () => {
    const index = parseInt(total.value, 10);
    if (index >= parseInt(addTag.dataset.max, 10)) return;
    const html = document.getElementById("tag-row-template").innerHTML.replace(/__prefix__/g, String(index));
    body.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    body.querySelector("tr:last-child input").focus();
  });
  body.addEventListener("click", (event) => {
    if (!event.target.classList.contains("remove-tag")) return;
    const row = event.target.closest("tr");
    row.querySelectorAll("input").forEach((input) => { input.value = ""; });
    row.classList.add("d-none");
  });
})();
