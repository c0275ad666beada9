/* Patron's small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }

  function init(root) {
    /* Navigation toggle for phone widths. */
    root.querySelectorAll("[data-nav-toggle]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      var nav = document.getElementById(button.getAttribute("aria-controls"));
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        nav.classList.toggle("is-open", open);
        if (open) {
          var first = nav.querySelector("a");
          if (first) first.focus();
        }
      });
    });

    /* "Select all" checkbox for bulk actions. */
    root.querySelectorAll("[data-select-all]").forEach(function (box) {
      if (box.dataset.bound) return;
      box.dataset.bound = "1";
      var form = document.getElementById(box.getAttribute("data-select-all"));
      box.addEventListener("change", function () {
        form.querySelectorAll("input[name='ids']").forEach(function (row) {
          row.checked = box.checked;
        });
        updateSelection(form);
      });
    });
    root.querySelectorAll("form[data-bulk]").forEach(function (form) {
      if (form.dataset.bound) return;
      form.dataset.bound = "1";
      form.addEventListener("change", function () { updateSelection(form); });
      updateSelection(form);
    });

    /* Tabs: arrow keys move between tabs, as the ARIA practices describe. */
    root.querySelectorAll("[role='tablist']").forEach(function (list) {
      if (list.dataset.bound) return;
      list.dataset.bound = "1";
      var tabs = Array.prototype.slice.call(list.querySelectorAll("[role='tab']"));
      function select(tab) {
        tabs.forEach(function (other) {
          var selected = other === tab;
          other.setAttribute("aria-selected", String(selected));
          other.tabIndex = selected ? 0 : -1;
          var panel = document.getElementById(other.getAttribute("aria-controls"));
          if (panel) panel.hidden = !selected;
        });
      }
      tabs.forEach(function (tab, index) {
        tab.addEventListener("click", function () { select(tab); });
        tab.addEventListener("keydown", function (event) {
          var next = null;
          if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
          if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
          if (next) { event.preventDefault(); select(next); next.focus(); }
        });
      });
    });
  }

  function updateSelection(form) {
    var count = form.querySelectorAll("input[name='ids']:checked").length;
    document.querySelectorAll("[data-selection-count='" + form.id + "']").forEach(function (el) {
      el.textContent = count ? count + " selected" : "None selected";
    });
    document.querySelectorAll("[data-needs-selection='" + form.id + "']").forEach(function (el) {
      el.disabled = count === 0;
    });
  }

  document.addEventListener("click", function (event) {
    var menu = event.target.closest("details.menu");
    closeMenus(menu);
    if (!event.target.closest(".topbar-search")) {
      var results = document.getElementById("search-results");
      if (results) results.innerHTML = "";
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.menu[open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary").focus();
    }
    var results = document.getElementById("search-results");
    if (results && results.innerHTML) {
      var inSearch = document.activeElement && document.activeElement.closest(".topbar-search");
      results.innerHTML = "";
      var box = document.getElementById("global-search");
      if (box && inSearch) box.focus();
    }
  });

  /* Global search results: Down from the box enters the list, Up/Down move, Escape leaves. */
  document.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    var box = document.getElementById("global-search");
    var results = document.getElementById("search-results");
    if (!box || !results) return;
    var options = Array.prototype.slice.call(results.querySelectorAll("[role='option']"));
    if (!options.length) return;
    var index = options.indexOf(document.activeElement);
    if (document.activeElement !== box && index === -1) return;
    event.preventDefault();
    var next = event.key === "ArrowDown" ? index + 1 : index - 1;
    if (next < 0) { box.focus(); return; }
    options[Math.min(next, options.length - 1)].focus();
  });

  /* Confirmation for destructive buttons (the server asks again when JS is off). */
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) ||
      event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
