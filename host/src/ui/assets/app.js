// hookhost dashboard: progressive enhancement only; every page works without it.
//  - [data-refresh]: fetched again every few seconds and replaced, until the
//    server sends it back without the attribute (a settled delivery, a
//    finished replay). Paused while the tab is hidden.
//  - [data-copy]: copies the value of the input it names.
"use strict";

const EVERY_MS = 2000;

async function refresh(el) {
  const url = el.getAttribute("data-refresh");
  if (!url || document.hidden) return schedule(el);
  try {
    const answer = await fetch(url, { credentials: "same-origin", redirect: "manual" });
    if (answer.type === "opaqueredirect" || answer.status === 401) {
      location.reload(); // the session ended: the page will ask to sign in
      return;
    }
    if (!answer.ok) return schedule(el);
    const holder = document.createElement(el.tagName === "TBODY" ? "table" : "div");
    holder.innerHTML = await answer.text();
    const fresh = holder.querySelector("#" + el.id) || holder.firstElementChild;
    if (!fresh) return schedule(el);
    el.replaceWith(fresh);
    if (fresh.hasAttribute("data-refresh")) schedule(fresh);
  } catch (_) {
    schedule(el);
  }
}

function schedule(el) {
  setTimeout(() => refresh(el), EVERY_MS);
}

document.querySelectorAll("[data-refresh]").forEach(schedule);

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.getAttribute("data-copy"));
  if (!input) return;
  try {
    await navigator.clipboard.writeText(input.value);
  } catch (_) {
    input.select();
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = label), 1500);
});
