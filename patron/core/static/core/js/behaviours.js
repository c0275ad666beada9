/* Small behaviours declared with data- attributes, in place of inline handlers
   (onchange=, hx-on:...), which the Content-Security-Policy forbids (script-src 'self'). */
(function () {
  "use strict";

  /* Delegated listeners work for content HTMX swaps in later, with no re-binding. */

  /* data-submit-on-change: choosing an option reloads the form (a plain submit, as the
     <noscript> button next to it does). */
  document.addEventListener("change", function (event) {
    var control = event.target.closest && event.target.closest("[data-submit-on-change]");
    if (control && control.form) control.form.submit();
  });

  /* data-no-submit: a demonstration form that must never be sent. */
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form[data-no-submit]")) event.preventDefault();
  });

  /* data-enter-no-submit: Enter in this box (a search inside a form) does not save the form. */
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    if (event.target.closest && event.target.closest("[data-enter-no-submit]")) {
      event.preventDefault();
    }
  });

  /* data-history-back: a Cancel link goes back where the user came from; its href is where
     it goes without script or history. */
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-history-back]");
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });

  /* data-swap-unprocessable: a form inside it refused with HTTP 422 comes back with its
     errors and is swapped in like a success, instead of being dropped as an error. */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var source = event.target;
    if (event.detail.xhr.status === 422 && source.closest && source.closest("[data-swap-unprocessable]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  /* data-stop-change: this control's change event stays with it; an ancestor listening for
     change (a form field's inline validation) must not see it. It has to be bound on the
     element itself, before the event bubbles, so new content is bound as HTMX loads it. */
  function stopChange(event) { event.stopPropagation(); }
  function bind(root) {
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-stop-change]"));
    if (root.matches && root.matches("[data-stop-change]")) found.push(root);
    found.forEach(function (element) {
      if (element.dataset.stopChangeBound) return;
      element.dataset.stopChangeBound = "1";
      element.addEventListener("change", stopChange);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (event) { bind(event.target); });
})();
