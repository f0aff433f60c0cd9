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
