/* 红色网格 pages: small enhancements; every page works without this file. */
(function () {
  "use strict";

  // A place, week or quarter picker submits itself when changed.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) {
      if (field.type === "date" && !field.value) return;
      if (field.form.requestSubmit) field.form.requestSubmit(); else field.form.submit();
    }
  });

  // 月议 attendance: "再加一位" appends an empty row (without script, saving adds empty rows).
  function initAttendees() {
    var button = document.querySelector("[data-add-attendee]");
    var list = document.querySelector("[data-attendees]");
    if (!button || !list) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var rows = list.querySelectorAll("li");
      var last = rows[rows.length - 1];
      if (!last) return;
      var row = last.cloneNode(true);
      var n = rows.length + 1;
      row.querySelectorAll("input").forEach(function (input) {
        input.value = "";
        input.id = input.id.replace(/\d+$/, String(n));
      });
      row.querySelectorAll("label").forEach(function (label) {
        label.htmlFor = label.htmlFor.replace(/\d+$/, String(n));
        label.textContent = label.textContent.replace(/\d+/, String(n));
      });
      list.appendChild(row);
      row.querySelector("input").focus();
    });
  }

  // A submit button that asks first (e.g. 标记已召开), while the form's other buttons do not.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm-button");
    var undecided = button && button.getAttribute("data-confirm-undecided");
    if (undecided && Array.prototype.some.call(event.target.querySelectorAll("textarea[name^='decision_']"),
                                               function (box) { return !box.value.trim(); })) {
      question = undecided;
    }
    if (question && !window.confirm(question)) event.preventDefault();
  });

  if (document.readyState !== "loading") initAttendees();
  else document.addEventListener("DOMContentLoaded", initAttendees);
})();
