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

  // 周报 bars: their length comes from data-n / data-max (the Content-Security-Policy allows no
  // style attributes in the markup; styles set from script are allowed).
  function initBars() {
    document.querySelectorAll(".bar[data-n]").forEach(function (bar) {
      bar.style.setProperty("--n", bar.getAttribute("data-n"));
      bar.style.setProperty("--max", bar.getAttribute("data-max") || "1");
    });
  }

  function init() { initAttendees(); initBars(); }

  if (document.readyState !== "loading") init();
  else document.addEventListener("DOMContentLoaded", init);
})();
