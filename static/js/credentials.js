// The Success page: Show/Hide for each secret, and no secret left behind by the back/forward
// cache. The secrets are only in this response's DOM: never in a URL, a cookie or storage.
(function () {
  "use strict";
  const MASK = "********";

  document.querySelectorAll("[data-secret-toggle]").forEach((button) => {
    const secret = button.previousElementSibling;
    const label = button.getAttribute("aria-label").replace(/^Show /, "");
    button.addEventListener("click", () => {
      const shown = button.getAttribute("aria-pressed") === "true";
      secret.textContent = shown ? MASK : secret.dataset.secret;
      button.textContent = shown ? "Show" : "Hide";
      button.setAttribute("aria-pressed", shown ? "false" : "true");
      button.setAttribute("aria-label", (shown ? "Show " : "Hide ") + label);
    });
  });

  function forgetSecrets() {
    document.querySelectorAll("[data-secret]").forEach((el) => {
      el.dataset.secret = "";
      el.textContent = MASK;
    });
  }

  // Chrome may keep even a no-store page in the back/forward cache: leave nothing in the
  // snapshot, and ask the server again (410 once closed) when the page is shown from it.
  window.addEventListener("pagehide", (event) => { if (event.persisted) forgetSecrets(); });
  window.addEventListener("pageshow", (event) => { if (event.persisted) window.location.reload(); });
  // Close discards the secrets on the server; drop them here too.
  const close = document.getElementById("close-credentials");
  if (close) close.addEventListener("submit", forgetSecrets);
})();
