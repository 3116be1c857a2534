// The job progress page: polls the progress JSON every second and updates the bar, the counts
// and each user's status without reloading. When every user is created it moves on to the
// Success page; when the job ends with failures it reloads once, so the server can show each
// step's result and the Retry button. Without JavaScript the page has a Refresh link.
(function () {
  "use strict";
  const root = document.getElementById("job-progress");
  if (!root) return;
  const bar = root.querySelector("[data-progress-bar]");
  const meter = root.querySelector("[role=progressbar]");
  const interval = Math.max(1000, parseInt(root.dataset.interval || "1000", 10));
  const BADGES = {
    queued: "text-bg-secondary", running: "text-bg-info", done: "text-bg-success",
    failed: "text-bg-danger", cancelled: "text-bg-warning",
  };

  function showPercent(percent) {
    bar.style.width = percent + "%";
    meter.setAttribute("aria-valuenow", String(percent));
  }

  function render(data) {
    showPercent(data.percent);
    root.querySelectorAll("[data-count]").forEach((el) => {
      const value = data[el.dataset.count];
      if (value !== undefined) el.textContent = String(value);
    });
    bar.classList.toggle("bg-danger", data.failed > 0);
    (data.items || []).forEach((item) => {
      const badge = document.querySelector(`[data-item-id="${item.id}"] [data-item-status]`);
      if (!badge || badge.dataset.status === item.status) return;
      badge.dataset.status = item.status;
      badge.textContent = item.label;
      badge.className = "badge " + (BADGES[item.status] || "text-bg-secondary");
    });
  }

  // replace(), not assign(): Back from the Success page must not land here and forward again.
  const forward = () => window.location.replace(root.dataset.credentialsUrl);

  showPercent(parseInt(root.dataset.percent || "0", 10));
  if (root.dataset.finished === "true") {
    if (root.dataset.forward === "true") forward();
    return;
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.progressUrl, {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store",
      });
      if (response.ok) {
        const data = await response.json();
        render(data);
        if (data.finished) {
          if (data.all_done) forward();
          else window.location.reload();
          return;
        }
      }
    } catch (error) {
      // A network blip: try again at the next tick.
    }
    window.setTimeout(poll, interval);
  }
  poll();
})();
