// The page of a background operation: ask its progress every second, move the bar, and load
// the page again once the operation has ended (it then shows the result). Without script the
// page reloads itself (a <noscript> refresh) and has a reload link.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-operation-progress]");
  if (!box) return;
  const url = box.dataset.operationProgress;
  const bar = box.querySelector("progress");
  const label = box.querySelector("[data-operation-label]");
  const state = box.querySelector("[data-operation-state]");
  const INTERVAL = 1000;

  const show = (data) => {
    if (data.state === "running" && data.total > 0) {
      bar.max = data.total;
      bar.value = data.done;
    }
    bar.textContent = `${data.percent}%`;
    bar.dataset.percent = String(data.percent);
    label.textContent = data.label;
    state.textContent = data.state_label;
  };

  const poll = async () => {
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.ok) {
        const data = await response.json();
        show(data);
        if (data.finished) {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // A moment without the server (a restart, the network): ask again at the next tick.
    }
    window.setTimeout(poll, INTERVAL);
  };
  window.setTimeout(poll, INTERVAL);
});
