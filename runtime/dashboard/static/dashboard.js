// relay dashboard: live updates over Server-Sent Events, a copy button, confirmations.
// Every page works without this file; it only makes pages update themselves.
"use strict";
(function () {
  const body = document.body;
  const prefix = body.dataset.prefix || "/dashboard";

  // copy buttons: shown only when a script can copy
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      if (!field) return;
      try {
        await navigator.clipboard.writeText(field.value);
        button.textContent = "Copied";
      } catch (_err) {
        field.select();
        button.textContent = "Press Ctrl+C";
      }
    });
  }

  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }

  const mode = body.dataset.live;
  if (!mode || !window.EventSource) return;
  const status = document.getElementById("live-state");
  const execution = body.dataset.execution;
  const instance = body.dataset.instance;
  // from the moment the page was rendered: nothing that happened since is missed
  const query = new URLSearchParams();
  if (instance) query.set("instance", instance);
  if (body.dataset.renderedAt) query.set("since", body.dataset.renderedAt);
  const url = prefix + "/events?" + query.toString();

  // the page's live parts (the live region, and the deliveries panel where there is one) are
  // fetched again and swapped in (at most one fetch at a time; events arriving meanwhile
  // cause one more); a part holding the keyboard's focus is left as it is
  let busy = false;
  let again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const answer = await fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (answer.ok) {
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        let swapped = false;
        for (const fresh of page.querySelectorAll("[data-live-part][id]")) {
          const here = document.getElementById(fresh.id);
          if (!here || here.contains(document.activeElement)) continue;
          const open = new Set([...here.querySelectorAll("details[open]")].map(keyOf));
          here.replaceWith(document.adoptNode(fresh));
          for (const d of fresh.querySelectorAll("details")) if (open.has(keyOf(d))) d.open = true;
          swapped = true;
        }
        if (swapped) {
          body.dataset.updated = String(Date.now());
          document.dispatchEvent(new CustomEvent("relay:updated"));
        }
      }
    } catch (_err) {
      // the next event tries again
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  function keyOf(details) {
    const step = details.closest("[data-path]");
    return (step ? step.dataset.path : "") + "|" + (details.querySelector("summary") || {}).textContent;
  }

  const source = new EventSource(url, { withCredentials: true });
  source.addEventListener("open", () => {
    if (status) { status.hidden = false; status.textContent = "Live: updates as executions run."; }
    body.dataset.liveOpen = "yes";
  });
  source.addEventListener("error", () => {
    if (status) { status.hidden = false; status.textContent = "Live updates paused; reconnecting…"; }
  });
  const kinds = ["recorded", "started", "step", "waiting", "finished"];
  for (const kind of kinds) {
    source.addEventListener("execution." + kind, (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch (_err) { return; }
      if (mode === "execution" && data.execution_id !== execution) return;
      refresh();
    });
  }
})();
