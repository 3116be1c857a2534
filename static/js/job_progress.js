// The job progress page: polls the progress JSON every second and updates the bar, the counts
// and each user's row without reloading. Each poll tells the statuses the page shows
// (?known=<id><first letter>,...); the answer, read at one moment, brings the steps of just the
// rows whose status changed since, so the bar, the counts, each badge and its steps always
// agree. When every user is created it moves on to the Success page; when the job ends with
// failures it reloads once, so the server can show the Retry button. Without JavaScript the
// page has a Refresh link.
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
  // As templates/users/jobs/_steps.html marks each step: class, label, sign.
  const MARKS = {
    done: ["text-success", "Done", "✓"], failed: ["text-danger", "Failed", "✗"],
    started: ["text-body-secondary", "Started", "…"],
  };
  const NOT_RUN = ["text-body-secondary", "Not run", "–"];

  // An element with attributes and children (nodes, or strings added as text, never as HTML).
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
    node.append(...children);
    return node;
  }

  function plural(count, word) {
    return `${count} ${word}${count === 1 ? "" : "s"}`;
  }

  function stepLine(step) {
    const [css, label, sign] = MARKS[step.status] || NOT_RUN;
    const line = el("li", { "data-step-status": step.status },
      el("span", { class: css, "aria-label": label }, sign), " ", el("code", {}, step.operation));
    if (step.argument) line.append(" " + step.argument);
    if (step.note) line.append(" ", el("span", { "data-step-note": "" }, "— " + step.note));
    if (step.seconds !== undefined) {
      line.append(" ", el("span", { class: "text-body-secondary", "data-step-seconds": "" }, step.seconds.toFixed(2) + " s"));
    }
    if (step.status === "failed") {
      const error = el("div", { class: "text-danger ms-3" }, `${step.error_code}: ${step.error_message}`);
      if (step.request_id) error.append(" ", el("span", { class: "text-body-secondary" }, `(Request ID: ${step.request_id})`));
      line.append(error);
    } else if (step.status === "not run") {
      line.append(" ", el("span", { class: "text-body-secondary" }, "not run"));
    }
    return line;
  }

  function stepList(steps) {
    return el("ul", { class: "list-unstyled small mb-0", "data-testid": "item-steps" }, ...steps.map(stepLine));
  }

  // The Steps cell, as templates/users/jobs/detail.html draws it.
  function stepsCell(status, row) {
    const parts = [];
    if (status === "failed" || (status === "cancelled" && row.started)) {
      parts.push(stepList(row.steps));
    } else if (row.started) {
      parts.push(el("details", {}, el("summary", { class: "small" }, plural(row.steps.length, "step")), stepList(row.steps)));
    } else {
      parts.push(el("span", { class: "text-body-secondary small" }, "Not started"));
    }
    if (status === "failed" && row.error_code && !row.started) {
      parts.push(el("div", { class: "small text-danger" }, `✗ ${row.error_code}: ${row.error_message}`));
    }
    return parts;
  }

  function showRow(tr, item) {
    const badge = tr.querySelector("[data-item-status]");
    badge.dataset.status = item.status;
    badge.textContent = item.label;
    badge.className = "badge " + (BADGES[item.status] || "text-bg-secondary");
    const note = tr.querySelector("[data-item-note]");
    if (note) note.remove();
    if (item.status === "queued" && item.row.error_code) {
      badge.after(el("div", { class: "small text-body-secondary", "data-item-note": "" }, `Retrying after ${item.row.error_code}`));
    }
    tr.querySelector("[data-item-steps]").replaceChildren(...stepsCell(item.status, item.row));
    const { seconds, attempts } = item.row;
    const time = seconds === null ? "" : `${seconds.toFixed(1)} s${attempts > 1 ? `, ${attempts} runs` : ""}`;
    tr.querySelector("[data-item-time]").textContent = time;
  }

  function showPercent(percent) {
    bar.style.width = percent + "%";
    meter.setAttribute("aria-valuenow", String(percent));
  }

  function render(data) {
    showPercent(data.percent);
    root.querySelectorAll("[data-count]").forEach((node) => {
      const value = data[node.dataset.count];
      if (value !== undefined) node.textContent = String(value);
    });
    bar.classList.toggle("bg-danger", data.failed > 0);
    (data.items || []).forEach((item) => {
      const tr = document.querySelector(`[data-item-id="${item.id}"]`);
      if (tr && item.row) showRow(tr, item);
    });
  }

  // Each row's id and the first letter of the status its badge shows.
  function progressUrl() {
    const known = Array.from(document.querySelectorAll("[data-item-id]"), (tr) => {
      const badge = tr.querySelector("[data-item-status]");
      return tr.dataset.itemId + (badge.dataset.status || "").charAt(0);
    });
    return `${root.dataset.progressUrl}&known=${known.join(",")}`;
  }

  // replace(), not assign(): Back from the Success page must not land here and forward again.
  // A job without a Success page (the access-key hygiene page's Deactivate) shows its end here.
  const forward = () => {
    if (root.dataset.credentialsUrl) window.location.replace(root.dataset.credentialsUrl);
    else window.location.reload();
  };

  showPercent(parseInt(root.dataset.percent || "0", 10));
  if (root.dataset.finished === "true") {
    if (root.dataset.forward === "true") forward();
    return;
  }

  async function poll() {
    try {
      const response = await fetch(progressUrl(), {
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
      } else if (response.status === 403 && (await response.json()).error === "recheck_required") {
        // The identity provider must confirm the sign-in again: a page load does it (users/oidc/recheck.py).
        window.location.reload();
        return;
      }
    } catch (error) {
      // A network blip: try again at the next tick.
    }
    window.setTimeout(poll, interval);
  }
  poll();
})();
