// <button data-needs-selection form="…">: disabled until a checkbox of its form is checked (the
// users' and groups' lists' Delete). Without this script the button stays enabled, and the view says what to pick.
(function () {
  "use strict";
  document.querySelectorAll("[data-needs-selection]").forEach((button) => {
    const boxes = Array.from(button.form.elements).filter((element) => element.type === "checkbox");
    const update = () => { button.disabled = !boxes.some((box) => box.checked); };
    boxes.forEach((box) => box.addEventListener("change", update));
    update();
  });
})();
