/* Case pages: small enhancements of the intake, public and detail forms. Every form works
   without this file (the server fills defaults and checks everything). */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // The chosen category's default tier (三事分流) becomes the tier, which the user may change.
  function syncTier(select) {
    var option = select.options[select.selectedIndex];
    var tier = option && option.getAttribute("data-tier");
    if (!tier || !select.form) return;
    var radio = select.form.querySelector('input[name="tier"][value="' + tier + '"]');
    if (radio) radio.checked = true;
  }

  function refreshSimilar() {
    var box = document.getElementById("similar");
    if (box && window.htmx) window.htmx.trigger(box, "refresh");
  }

  function loadHouseholds(form, building) {
    var box = document.getElementById("field-household");
    var url = form.getAttribute("data-households-url");
    if (!box || !url || !window.htmx) return;
    window.htmx.ajax("GET", url + "?building=" + encodeURIComponent(building || ""), { target: box, swap: "outerHTML" });
  }

  function previewPhoto(input) {
    var field = input.closest(".field");
    var box = field && field.querySelector("[data-photo-preview]");
    if (!box) return;
    var file = input.files && input.files[0];
    var img = box.querySelector("img");
    if (img.src) URL.revokeObjectURL(img.src);
    if (!file || !/^image\//.test(file.type)) { box.hidden = true; img.removeAttribute("src"); return; }
    img.src = URL.createObjectURL(file);
    box.hidden = false;
  }

  function syncReporter(checkbox) {
    var form = checkbox.form;
    if (!form) return;
    form.querySelectorAll("[data-reporter]").forEach(function (box) {
      box.hidden = checkbox.checked && !box.querySelector(".has-error");
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target.form;
    if (!form) return;
    if (target.name === "anonymous") syncReporter(target);
    if (target.name === "photo") previewPhoto(target);
    if (!form.hasAttribute("data-intake")) return;
    if (target.name === "category") syncTier(target);
    if (target.name === "building") loadHouseholds(form, target.value);
    if (target.name === "building" || target.name === "node" || target.name === "category") refreshSimilar();
  });

  document.addEventListener("click", function (event) {
    // A suggested category: pick it in the category select.
    var pick = event.target.closest("[data-pick-category]");
    if (pick) {
      var select = document.getElementById(pick.getAttribute("data-target") || "id_category");
      if (!select) return;
      select.value = pick.getAttribute("data-pick-category");
      select.dispatchEvent(new Event("change", { bubbles: true }));
      pick.parentNode.querySelectorAll("[data-pick-category]").forEach(function (b) {
        b.setAttribute("aria-pressed", b === pick ? "true" : "false");
      });
      return;
    }
    // "Use my location": the browser's position into latitude/longitude.
    var locate = event.target.closest("[data-geolocate]");
    if (locate) {
      var status = document.querySelector(locate.getAttribute("data-status"));
      var form = locate.form || locate.closest("form");
      var say = function (text) { if (status) status.textContent = text; };
      if (!navigator.geolocation) { say("此浏览器不支持定位，请手动填写地点。"); return; }
      say("正在定位…");
      locate.disabled = true;
      navigator.geolocation.getCurrentPosition(function (position) {
        form.querySelector('[data-geo="latitude"]').value = position.coords.latitude.toFixed(6);
        form.querySelector('[data-geo="longitude"]').value = position.coords.longitude.toFixed(6);
        say("已获取位置（精度约 " + Math.round(position.coords.accuracy) + " 米）。");
        locate.disabled = false;
      }, function (error) {
        say((error.code === 1 ? "未允许定位" : "暂时无法定位") + "，可手动填写地点。");
        locate.disabled = false;
      }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    }
  });

  ready(function () {
    if (navigator.geolocation) {
      document.querySelectorAll("[data-geolocate]").forEach(function (button) { button.hidden = false; });
    }
    document.querySelectorAll('input[name="anonymous"]').forEach(syncReporter);
    // Filters folded away on phones are simply shown on wider screens.
    if (window.matchMedia && window.matchMedia("(min-width: 720px)").matches) {
      document.querySelectorAll("details[data-open-wide]").forEach(function (box) { box.open = true; });
    }
  });
})();
