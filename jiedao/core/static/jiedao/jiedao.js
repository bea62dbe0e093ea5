/* Jiedao staff UI: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // Phone navigation: the menu button opens and closes the collapsed nav.
  function initNav() {
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("site-nav");
    if (!toggle || !nav) return;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", open ? "false" : "true");
      nav.classList.toggle("is-open", !open);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && nav.classList.contains("is-open")) {
        toggle.setAttribute("aria-expanded", "false");
        nav.classList.remove("is-open");
        toggle.focus();
      }
    });
  }

  // Show the department field of the role form only for department handlers.
  function syncRoleForm(form) {
    var role = form.querySelector("select[name=role]");
    if (!role) return;
    form.querySelectorAll("[data-show-for-role]").forEach(function (box) {
      var show = box.getAttribute("data-show-for-role") === role.value;
      box.hidden = !show && !box.classList.contains("has-error");
    });
  }

  function enhance(scope) {
    scope.querySelectorAll("form[data-role-form]").forEach(function (form) {
      if (form.dataset.enhanced) return;
      form.dataset.enhanced = "1";
      syncRoleForm(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "role") syncRoleForm(form);
      });
    });
  }

  ready(function () {
    initNav();
    enhance(document);
    var alert = document.querySelector("[data-autofocus]");
    if (alert) alert.focus();
  });
  document.addEventListener("htmx:afterSwap", function (event) { enhance(event.target); });

  document.addEventListener("click", function (event) {
    var target = event.target;
    // Dismiss a flash message.
    var dismiss = target.closest("[data-dismiss]");
    if (dismiss) {
      var flash = dismiss.closest(".flash");
      if (flash) flash.remove();
      return;
    }
    // Expand a tree node in place (loads its children once through htmx).
    var expand = target.closest("button.expand");
    if (expand) {
      var box = document.getElementById(expand.getAttribute("aria-controls"));
      if (!box) return;
      var open = expand.getAttribute("aria-expanded") === "true";
      expand.setAttribute("aria-expanded", open ? "false" : "true");
      expand.querySelector("[aria-hidden]").textContent = open ? "＋" : "－";
      var text = expand.querySelector(".expand-text");
      if (text) text.textContent = open ? (expand.dataset.labelOpen || "展开") : (expand.dataset.labelClose || "收起");
      if (open) { box.hidden = true; return; }
      box.hidden = false;
      if (!box.dataset.loaded && window.htmx) {
        box.dataset.loaded = "1";
        box.innerHTML = '<p class="muted loading">…</p>';
        window.htmx.ajax("GET", expand.getAttribute("data-expand-url"), { target: box, swap: "innerHTML" });
      }
      return;
    }
    // Copy a shown-once secret.
    var copy = target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          copy.textContent = copy.dataset.done || "已复制";
        });
      } else if (source) {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
    }
  });

  // A menu group (红色网格) opened on a desktop closes when the user clicks elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.nav-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target) && window.matchMedia("(min-width: 900px)").matches) menu.open = false;
    });
  });

  // Ask before destructive actions (revoke, deactivate).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // The picker's search box: Enter searches instead of submitting the whole form.
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key === "Enter" && input.matches && input.matches("[data-picker-search]")) {
      event.preventDefault();
      if (window.htmx) window.htmx.trigger(input, "picker-search");
    }
  });

  // Registers (people pages), the case reporter's phone. A refused htmx request inside
  // [data-swap-errors] (400/403/409 with the form and its Chinese message, 429 with a "too many
  // lookups" message) is swapped in like a success, so the message shows inline.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if ((status === 400 || status === 403 || status === 409 || status === 429) && source && source.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  // After such a swap (or a page answering the same form), keyboard focus goes to what changed:
  // the clear value, or the reason field with its message.
  function focusChanged() {
    var box = document.querySelector("[data-focus-after-swap]");
    if (box) {
      box.removeAttribute("data-focus-after-swap");
      box.focus();
    }
  }
  document.addEventListener("htmx:afterSettle", focusChanged);

  // A special-group form shows only the chosen group's extra fields.
  function syncGroupForm(form) {
    var group = form.querySelector("select[name=group]");
    if (!group) return;
    form.querySelectorAll("[data-show-for-group]").forEach(function (box) {
      box.hidden = box.getAttribute("data-show-for-group") !== group.value && !box.querySelector(".has-error");
    });
  }
  ready(function () {
    focusChanged();
    document.querySelectorAll("form[data-group-form]").forEach(function (form) {
      syncGroupForm(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "group") syncGroupForm(form);
      });
    });
  });
})();
