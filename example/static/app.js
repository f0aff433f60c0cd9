// sessionguard example: the only script. Everything works without it; it
// turns the "Log out all other sessions" and "Log out everywhere" buttons,
// which otherwise open a confirmation page, into a confirmation dialog.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  var target = form.getAttribute("data-post");
  if (!question || !target) {
    return;
  }
  event.preventDefault();
  if (!window.confirm(question)) {
    return;
  }
  var post = document.createElement("form");
  post.method = "post";
  post.action = target;
  post.hidden = true;
  document.body.appendChild(post);
  post.submit();
});
