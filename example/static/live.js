// Live sessions page: reload when the list of sessions changes, and leave
// the moment this session is ended from another browser.
(() => {
  if (location.pathname !== "/sessions" || !window.EventSource) return;
  const es = new EventSource("/sessions/live");
  let first = null;
  es.addEventListener("sessions", (e) => {
    if (first === null) { first = e.data; return; }
    if (e.data !== first) location.reload();
  });
  es.addEventListener("ended", () => {
    es.close();
    location.href = "/login?m=signed-out";
  });
})();

// New-device notice: the newest sign-in from a device or place the account
// had not used, made by another session, until dismissed in this browser.
(() => {
  if (location.pathname !== "/sessions" && location.pathname !== "/security-log") return;
  const main = document.querySelector("main");
  if (!main) return;
  fetch("/alerts/new-device", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : { alert: null }))
    .then(({ alert }) => {
      if (!alert || localStorage.getItem("dismissed-new-device") === String(alert.id)) return;
      const box = document.createElement("div");
      box.className = "flash new-device";
      box.setAttribute("role", "alert");
      const text = document.createElement("p");
      const where = alert.location ? ", " + alert.location : "";
      text.textContent = "New sign-in: " + alert.device + where + " on " +
        new Date(alert.at).toLocaleString() + ". Not you? Log out everywhere and change your password.";
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.textContent = "Dismiss";
      dismiss.addEventListener("click", () => {
        localStorage.setItem("dismissed-new-device", String(alert.id));
        box.remove();
      });
      box.append(text, dismiss);
      main.prepend(box);
    })
    .catch(() => {});
})();
