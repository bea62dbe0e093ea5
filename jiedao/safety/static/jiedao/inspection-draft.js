/* The inspection form keeps what the inspector entered on this device until the server has it
 * (safety/inspection_form.html, the form with data-draft-key).
 *
 * - Every change is saved in localStorage under the key "jiedao:inspection-draft:<user>:<business>":
 *   the checklist answers, the other findings, the date and campaign, the contact's name and
 *   confirmation and the notes — only what the inspector typed or chose; never the photos (files
 *   stay in the page's file field) and never the CSRF token.
 * - Opening the form again (a reload, a crash, the next day) puts the saved values back and says so.
 * - The form is sent with fetch: if the network fails, the draft stays and the page says so; the
 *   draft is removed only when the server answers with the recorded inspection's page. Any other
 *   answer (a refused field, an expired login) is shown by sending the form the ordinary way.
 * - Drafts older than seven days are deleted when any inspection form is opened.
 */
(function () {
  "use strict";

  var PREFIX = "jiedao:inspection-draft:";
  var MAX_AGE = 7 * 24 * 3600 * 1000;
  var SKIP = { csrfmiddlewaretoken: true, template: true, photos: true };
  var form = document.querySelector("form[data-draft-key]");
  var store;
  try {
    store = window.localStorage;
    store.getItem(PREFIX);
  } catch (e) {
    return; // storage disabled (private mode): the form works as before
  }
  if (!form || !store) return;

  var key = form.getAttribute("data-draft-key");
  var notice = document.getElementById("draft-notice");
  var template = form.getAttribute("data-draft-template") || "";

  function read(k) {
    try {
      var draft = JSON.parse(store.getItem(k));
      if (draft && draft.v === 1 && draft.values && Date.now() - draft.saved < MAX_AGE) return draft;
    } catch (e) { /* a broken entry counts as none */ }
    return null;
  }

  // Expired drafts of any business go first.
  for (var i = store.length - 1; i >= 0; i--) {
    var k = store.key(i);
    if (k && k.indexOf(PREFIX) === 0 && !read(k)) store.removeItem(k);
  }

  function fields(callback) {
    Array.prototype.forEach.call(form.elements, function (el) {
      // the hidden submission id travels with the draft: sent again after a lost answer, the
      // server recognises the inspection it already recorded instead of recording it twice
      if (!el.name || SKIP[el.name] || el.type === "file" || el.type === "submit") return;
      if (el.type === "hidden" && el.name !== "submission") return;
      callback(el);
    });
  }

  function collect() {
    var values = {};
    fields(function (el) {
      if (el.type === "radio") {
        if (el.checked) values[el.name] = el.value;
      } else if (el.type === "checkbox") {
        values[el.name] = el.checked;
      } else {
        values[el.name] = el.value;
      }
    });
    return values;
  }

  function save() {
    try {
      store.setItem(key, JSON.stringify({ v: 1, saved: Date.now(), template: template, values: collect() }));
    } catch (e) { /* full or refused: nothing more we can do here */ }
  }

  function clear() {
    try { store.removeItem(key); } catch (e) { /* ignore */ }
  }

  function restore(values) {
    fields(function (el) {
      if (!(el.name in values)) return;
      var value = values[el.name];
      if (el.type === "radio") {
        el.checked = el.value === value;
      } else if (el.type === "checkbox") {
        if (!el.disabled) el.checked = value === true;
      } else if (typeof value === "string") {
        el.value = value;
      }
    });
  }

  function say(text, extra) {
    if (!notice) return;
    notice.textContent = text;
    if (extra) {
      notice.appendChild(document.createTextNode(" "));
      notice.appendChild(extra);
    }
    notice.hidden = false;
  }

  function discardButton() {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-small btn-quiet";
    button.textContent = form.getAttribute("data-msg-discard");
    button.addEventListener("click", function () {
      clear();
      window.location.reload();
    });
    return button;
  }

  var draft = read(key);
  if (draft && form.getAttribute("data-draft-restore") === "1") {
    restore(draft.values);
    var extra = document.createElement("span");
    if (draft.template && draft.template !== template) {
      var link = document.createElement("a");
      link.href = "?template=" + encodeURIComponent(draft.template);
      link.textContent = form.getAttribute("data-msg-other-template");
      extra.appendChild(link);
      extra.appendChild(document.createTextNode(" "));
    }
    extra.appendChild(discardButton());
    say(form.getAttribute("data-msg-restored"), extra);
  }

  form.addEventListener("input", save);
  form.addEventListener("change", save);

  window.addEventListener("online", function () {
    if (notice && notice.getAttribute("data-state") === "offline") {
      notice.removeAttribute("data-state");
      say(form.getAttribute("data-msg-online"));
    }
  });

  form.addEventListener("submit", function (event) {
    if (event.defaultPrevented || !window.fetch || !window.FormData) return;
    event.preventDefault();
    save();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    window.fetch(form.action || window.location.href, {
      method: "POST", body: new window.FormData(form), credentials: "same-origin", redirect: "follow",
    }).then(function (response) {
      var path = "";
      try { path = new URL(response.url).pathname; } catch (e) { /* keep "" */ }
      if (response.ok && response.redirected && /^\/safety\/inspections\/\d+\/$/.test(path)) {
        clear();
        window.location.replace(response.url);
        return;
      }
      // Refused (a field to correct), logged out or a server error: the server's own page shows
      // it, the draft stays until the inspection is recorded.
      if (button) button.disabled = false;
      HTMLFormElement.prototype.submit.call(form);
    }, function () {
      if (button) button.disabled = false;
      say(form.getAttribute("data-msg-offline"));
      if (notice) {
        notice.setAttribute("data-state", "offline");
        notice.focus();
      }
    });
  });
})();
