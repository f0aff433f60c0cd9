// sessionguard example: the only script. Everything works without it; it
//   - asks for confirmation in a dialog where a button would otherwise open
//     a confirmation page (forms with data-confirm, data-consequence,
//     data-button and data-post);
//   - shows times relative to now ("2 minutes ago") with the full date in
//     the viewer's time zone on hover (<time data-relative>);
//   - repeats the messages present when the page loads into a live region,
//     so that screen readers announce them, and focuses an error that is
//     not about one field;
//   - offers to copy or download the recovery codes;
//   - adds, renames and signs in with security keys and passkeys (the
//     library's JSON routes and navigator.credentials).
"use strict";

document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  var target = form.getAttribute("data-post");
  if (!question || !target || typeof HTMLDialogElement !== "function") {
    return; // the form opens the confirmation page instead
  }
  event.preventDefault();
  confirmDialog(form, question, target);
});

// confirmDialog asks in a modal dialog, which states the consequence and
// starts on "Cancel"; confirming posts to target (a same-origin form post,
// like the confirmation page's).
function confirmDialog(form, question, target) {
  var dialog = document.createElement("dialog");
  dialog.className = "confirm-dialog";
  dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
  dialog.setAttribute("aria-describedby", "confirm-dialog-text");
  var title = document.createElement("h2");
  title.id = "confirm-dialog-title";
  title.textContent = question;
  var text = document.createElement("p");
  text.id = "confirm-dialog-text";
  text.textContent = form.getAttribute("data-consequence") || "";
  var post = document.createElement("form");
  post.method = "post";
  post.action = target;
  var ok = document.createElement("button");
  ok.type = "submit";
  ok.className = "danger";
  ok.textContent = form.getAttribute("data-button") || "Confirm";
  var cancel = document.createElement("button");
  cancel.type = "button";
  cancel.id = "confirm-dialog-cancel";
  cancel.className = "secondary";
  cancel.textContent = "Cancel";
  cancel.addEventListener("click", function () { dialog.close(); });
  var actions = document.createElement("div");
  actions.className = "actions";
  actions.append(ok, cancel);
  post.append(actions);
  dialog.append(title, text, post);
  var opener = document.activeElement;
  dialog.addEventListener("close", function () {
    dialog.remove();
    if (opener && opener.focus) {
      opener.focus();
    }
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  cancel.focus();
}

// The server's clock is the reference (the page says what time it was
// when it was made), so a wrong clock on the viewer's device doesn't turn
// "2 minutes ago" into "in 3 hours".
var serverTime = (function () {
  var meta = document.querySelector('meta[name="server-time"]');
  var t = meta ? Date.parse(meta.content) : NaN;
  return isNaN(t) ? Date.now() : t;
})();
var loadedAt = Date.now();

function relative(ms) {
  var rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  var s = Math.round(ms / 1000);
  var abs = Math.abs(s);
  if (abs < 45) {
    return rtf.format(0, "second"); // "now"
  }
  var units = [["minute", 60, 3600], ["hour", 3600, 86400], ["day", 86400, 7 * 86400]];
  for (var i = 0; i < units.length; i++) {
    if (abs < units[i][2]) {
      return rtf.format(Math.round(s / units[i][1]), units[i][0]);
    }
  }
  return null; // older than a week: the date itself says more
}

function updateTimes() {
  var now = serverTime + (Date.now() - loadedAt);
  var full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
  var short = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll("time[data-relative]").forEach(function (el) {
    var t = Date.parse(el.getAttribute("datetime"));
    if (isNaN(t)) {
      return;
    }
    el.title = full.format(t);
    el.textContent = relative(t - now) || short.format(t);
  });
}

function announce() {
  var region = document.getElementById("announcer");
  var messages = document.querySelectorAll("[data-announce]");
  if (region && messages.length) {
    var text = Array.prototype.map.call(messages, function (m) { return m.textContent.trim(); }).join(" ");
    // Filled after load, the live region's change is announced.
    setTimeout(function () { region.textContent = text; }, 250);
  }
  var error = document.getElementById("page-error");
  if (error && !document.querySelector('[aria-invalid="true"]')) {
    error.focus();
  }
}

function codesText() {
  var codes = document.querySelectorAll("#recovery-codes code");
  return "sessionguard example: recovery codes\n" +
    "Each code works once. Keep them somewhere safe.\n\n" +
    Array.prototype.map.call(codes, function (c) { return c.textContent.trim(); }).join("\n") + "\n";
}

function recoveryCodeActions() {
  var actions = document.querySelector("[data-codes-actions]");
  if (!actions) {
    return;
  }
  var download = actions.querySelector("[data-download]");
  // A data: URL, not a blob: one: the same file, and nothing to revoke.
  download.href = "data:text/plain;charset=utf-8," + encodeURIComponent(codesText());
  var copy = actions.querySelector("[data-copy]");
  copy.addEventListener("click", function () {
    var done = function (text) {
      copy.textContent = text;
      document.getElementById("announcer").textContent = text;
    };
    if (!navigator.clipboard) {
      done("Copying is not available: select the codes instead");
      return;
    }
    navigator.clipboard.writeText(codesText()).then(
      function () { done("Codes copied"); },
      function () { done("Copying failed: select the codes instead"); });
  });
  actions.hidden = false;
}

document.addEventListener("DOMContentLoaded", function () {
  updateTimes();
  setInterval(updateTimes, 30000);
  announce();
  recoveryCodeActions();
});

// Security keys and passkeys: the library's JSON routes under /auth/
// (passkey.Service), with navigator.credentials. WebAuthn hands out
// ArrayBuffers; the routes speak base64url (without padding).
function b64urlToBuffer(s) {
  var b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  var out = new Uint8Array(b.length);
  for (var i = 0; i < b.length; i++) {
    out[i] = b.charCodeAt(i);
  }
  return out.buffer;
}

function bufferToB64url(buf) {
  var bytes = new Uint8Array(buf);
  var s = "";
  for (var i = 0; i < bytes.length; i++) {
    s += String.fromCharCode(bytes[i]);
  }
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function postJSON(path, body, method) {
  return fetch(path, {
    method: method || "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body)
  }).then(function (resp) {
    if (resp.status === 204) {
      return {};
    }
    return resp.json().then(function (data) {
      if (!resp.ok) {
        throw new Error(data.message || "That didn't work. Please try again.");
      }
      return data;
    }, function () {
      throw new Error("That didn't work. Please try again.");
    });
  });
}

function credentialJSON(cred) {
  var r = cred.response;
  var response = { clientDataJSON: bufferToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bufferToB64url(r.attestationObject);
    if (r.getTransports) {
      response.transports = r.getTransports();
    }
  } else {
    response.authenticatorData = bufferToB64url(r.authenticatorData);
    response.signature = bufferToB64url(r.signature);
    if (r.userHandle) {
      response.userHandle = bufferToB64url(r.userHandle);
    }
  }
  return {
    id: cred.id,
    rawId: bufferToB64url(cred.rawId),
    type: cred.type,
    response: response,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    authenticatorAttachment: cred.authenticatorAttachment || undefined
  };
}

function showError(el, message) {
  el.textContent = message;
  el.hidden = false;
  document.getElementById("announcer").textContent = message;
}

function passkeyRegistration() {
  var form = document.getElementById("passkey-register");
  if (!form || !window.PublicKeyCredential) {
    return;
  }
  var unsupported = document.querySelector("[data-passkey-unsupported]");
  if (unsupported) {
    unsupported.hidden = true;
  }
  form.hidden = false;
  var error = document.getElementById("passkey-error");
  var name = document.getElementById("passkey-name");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    name.removeAttribute("aria-invalid");
    var password = document.getElementById("passkey-password");
    var confirmed = Promise.resolve();
    if (password) {
      // The password step of a sensitive action, as the other forms do it.
      confirmed = fetch("/two-factor/passkeys/confirm-password", {
        method: "POST", credentials: "same-origin", body: new URLSearchParams({ password: password.value })
      }).then(function (resp) {
        if (resp.status !== 204) {
          return resp.json().then(function (d) { throw new Error(d.message); });
        }
      });
    }
    confirmed.then(function () {
      return postJSON("/auth/passkeys/register/begin", { name: name.value });
    }).then(function (begin) {
      var o = begin.options.publicKey;
      o.challenge = b64urlToBuffer(o.challenge);
      o.user.id = b64urlToBuffer(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuffer(c.id); });
      return navigator.credentials.create({ publicKey: o }).then(function (cred) {
        return postJSON("/auth/passkeys/register/finish", { challenge_id: begin.challenge_id, credential: credentialJSON(cred) });
      });
    }).then(function () {
      window.location.assign("/two-factor?m=passkey-added");
    }, function (err) {
      var message = err.message;
      if (err.name === "NotAllowedError") {
        message = "The key was not added: the browser's request was cancelled or timed out.";
      } else if (err.name === "InvalidStateError") {
        message = "That key is already on your account.";
      } else if (err.name !== "Error") {
        message = "Your browser could not add a key here (" + err.name + "). Open the site at its usual address and try again.";
      }
      showError(error, message);
      name.setAttribute("aria-invalid", "true");
      name.setAttribute("aria-describedby", "passkey-name-hint passkey-error");
      name.focus();
    });
  });
  document.querySelectorAll("details[data-rename]").forEach(function (details) {
    details.hidden = false;
    var rename = details.querySelector("form");
    rename.addEventListener("submit", function (event) {
      event.preventDefault();
      var next = rename.querySelector("input").value.trim();
      postJSON("/auth/passkeys/" + encodeURIComponent(rename.getAttribute("data-rename-id")), { name: next }, "PATCH").then(function () {
        window.location.assign("/two-factor?m=passkey-renamed");
      }, function (err) { showError(error, err.message); });
    });
  });
}

function passkeyLogin() {
  var box = document.querySelector("[data-passkey-login]");
  if (!box || !window.PublicKeyCredential) {
    return;
  }
  box.hidden = false;
  var error = document.getElementById("passkey-login-error");
  document.getElementById("passkey-login").addEventListener("click", function () {
    error.hidden = true;
    // At the second step, "Don't ask again on this browser" applies to
    // the key as to a code.
    var trust = box.getAttribute("data-passkey-login") === "second-factor" && document.getElementById("trust");
    postJSON("/auth/passkeys/login/begin", {}).then(function (begin) {
      var o = begin.options.publicKey;
      o.challenge = b64urlToBuffer(o.challenge);
      (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuffer(c.id); });
      return navigator.credentials.get({ publicKey: o }).then(function (cred) {
        var body = { challenge_id: begin.challenge_id, credential: credentialJSON(cred) };
        if (trust && trust.checked) {
          body.trust_browser = true;
        }
        return postJSON("/auth/passkeys/login/finish", body);
      });
    }).then(function (done) {
      window.location.assign(done.trusted_browser ? "/?m=browser-trusted" : "/");
    }, function (err) {
      showError(error, err.name === "NotAllowedError" ? "No passkey was used: the browser's request was cancelled or timed out." : err.message);
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  passkeyRegistration();
  passkeyLogin();
});
