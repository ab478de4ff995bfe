// The staff console's few lines of script: chart values on hover and keyboard focus, and a
// confirmation before a form marked data-confirm is sent. Every page works without it.
(function () {
  "use strict";
  function show(el) {
    var fig = el.closest(".chart"); if (!fig) return;
    var tip = fig.querySelector(".tip"); if (!tip) return;
    var box = el.getBoundingClientRect(), outer = fig.getBoundingClientRect();
    tip.textContent = el.getAttribute("data-tip");
    tip.hidden = false;
    tip.style.left = Math.max(0, box.left - outer.left + box.width / 2 - 60) + "px";
    tip.style.top = Math.max(0, box.top - outer.top - 34) + "px";
  }
  function hide(el) {
    var fig = el.closest(".chart"); var tip = fig && fig.querySelector(".tip");
    if (tip) tip.hidden = true;
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".pt").forEach(function (el) {
      el.addEventListener("mouseenter", function () { show(el); });
      el.addEventListener("focus", function () { show(el); });
      el.addEventListener("mouseleave", function () { hide(el); });
      el.addEventListener("blur", function () { hide(el); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
  });
})();
