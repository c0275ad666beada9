/* Patron lead capture form: rendered into <div data-patron-capture="KEY"> and posted as JSON. */
(function () {
  "use strict";
  var config = {{ config|safe }};
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) { node.textContent = text; }
    return node;
  }
  // Plain defaults the host page's own CSS can override (a lower specificity than any class).
  var STYLE = ".patron-capture{max-width:32rem}.patron-capture-field{margin:0 0 .75rem}" +
    ".patron-capture label{display:block;font-weight:600;margin-bottom:.25rem}" +
    ".patron-capture input,.patron-capture textarea{box-sizing:border-box;width:100%;padding:.4rem;font:inherit}" +
    ".patron-capture-error{color:#b42318;margin:.25rem 0 0}.patron-capture button{padding:.5rem 1rem;font:inherit}";
  function addStyle() {
    if (document.getElementById("patron-capture-style")) { return; }
    var style = el("style", { id: "patron-capture-style" }, STYLE);
    document.head.appendChild(style);
  }
  function render(host) {
    var form = el("form", { "class": "patron-capture", novalidate: "novalidate" });
    var status = el("p", { role: "status", "aria-live": "polite", "class": "patron-capture-status" });
    config.fields.forEach(function (field) {
      var id = "patron-" + config.key + "-" + field.name;
      var wrap = el("div", { "class": "patron-capture-field" });
      wrap.appendChild(el("label", { "for": id }, field.label + (field.required ? " *" : "")));
      var input = field.type === "textarea"
        ? el("textarea", { id: id, name: field.name, rows: "4" })
        : el("input", { id: id, name: field.name, type: field.type, autocomplete: field.autocomplete });
      if (field.required) { input.setAttribute("required", "required"); input.setAttribute("aria-required", "true"); }
      wrap.appendChild(input);
      var error = el("p", { id: id + "-error", "class": "patron-capture-error", hidden: "hidden" });
      wrap.appendChild(error);
      form.appendChild(wrap);
    });
    var trap = el("div", { "aria-hidden": "true", style: "position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden" });
    trap.appendChild(el("input", { name: config.honeypot, tabindex: "-1", autocomplete: "off" }));
    form.appendChild(trap);
    form.appendChild(el("button", { type: "submit" }, "Send"));
    form.appendChild(status);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var payload = {};
      payload[config.tokenField] = config.token;
      Array.prototype.forEach.call(form.elements, function (input) {
        if (input.name) { payload[input.name] = input.value; }
      });
      form.querySelectorAll(".patron-capture-error").forEach(function (node) { node.hidden = true; node.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); node.removeAttribute("aria-describedby"); });
      status.textContent = "Sending…";
      fetch(config.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(payload)
      }).then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      }).then(function (answer) {
        if (answer.status >= 200 && answer.status < 300) {
          if (config.redirect) { window.location.href = config.redirect; return; }
          var thanks = el("p", { role: "status", "class": "patron-capture-thanks" }, config.thankYou);
          host.replaceChildren(thanks);
          return;
        }
        var errors = (answer.body && answer.body.errors) || {};
        Object.keys(errors).forEach(function (name) {
          var id = "patron-" + config.key + "-" + name;
          var input = document.getElementById(id);
          var error = document.getElementById(id + "-error");
          if (input && error) {
            error.textContent = errors[name].join(" ");
            error.hidden = false;
            input.setAttribute("aria-invalid", "true");
            input.setAttribute("aria-describedby", id + "-error");
          }
        });
        status.textContent = (answer.body && answer.body.detail) || "The form could not be sent.";
      }).catch(function () {
        status.textContent = "The form could not be sent; check your connection and try again.";
      });
    });
    host.replaceChildren(form);
  }
  addStyle();
  document.querySelectorAll('[data-patron-capture="' + config.key + '"]').forEach(render);
})();
