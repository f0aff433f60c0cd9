// Live sessions page: reload when the list of sessions changes, and clear
// the page the moment this session is ended from another browser.
(() => {
  if (location.pathname !== "/sessions" || !window.EventSource) return;
  const es = new EventSource("/sessions/live");
  let first = null;
  es.addEventListener("sessions", (e) => {
    if (first === null) { first = e.data; return; }
    if (e.data !== first) location.reload();
  });
  // The page makes no request of its own when its session ends: it says
  // so in place, and the next navigation lands on the sign-in page.
  es.addEventListener("ended", () => {
    es.close();
    const main = document.querySelector("main");
    if (!main) return;
    const box = document.createElement("p");
    box.className = "error session-ended";
    box.setAttribute("role", "alert");
    box.textContent = "This session was ended from another device. ";
    const link = document.createElement("a");
    link.href = "/sessions";
    link.textContent = "Sign in again";
    box.append(link);
    main.replaceChildren(box);
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
