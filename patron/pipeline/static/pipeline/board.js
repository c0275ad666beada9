/* Drag and drop on the pipeline board (SortableJS, vendored).

   A dropped card is posted to the move endpoint; on success the server's card replaces it
   and every column's figures are refreshed, on refusal the card goes back where it was and
   the reason is announced in the board's live region. Dropping on a lost stage first asks
   for the loss reason. Without JavaScript each card's "Move to" form does the same. */
(function () {
  "use strict";

  const board = document.querySelector("[data-board]");
  if (!board || typeof window.Sortable === "undefined") return;
  const status = document.getElementById("board-status");
  const dialog = document.getElementById("loss-dialog");
  const lossForm = document.getElementById("loss-form");

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function announce(text, isError) {
    status.textContent = text;
    status.className = "board-status alert " + (isError ? "alert-error" : "alert-success");
  }

  function putBack(item, from, next) {
    from.insertBefore(item, next && next.parentNode === from ? next : null);
  }

  function askLossReason(item) {
    return new Promise(function (resolve) {
      document.getElementById("loss-dialog-deal").textContent = item.dataset.name || "";
      lossForm.reset();
      function finish(value) {
        lossForm.removeEventListener("submit", onSubmit);
        dialog.removeEventListener("close", onClose);
        cancel.removeEventListener("click", onCancel);
        if (dialog.open) dialog.close();
        resolve(value);
      }
      function onSubmit(event) {
        event.preventDefault();
        if (!lossForm.reportValidity()) return;
        finish(new FormData(lossForm));
      }
      function onClose() { finish(null); }
      function onCancel() { finish(null); }
      const cancel = lossForm.querySelector("[data-loss-cancel]");
      lossForm.addEventListener("submit", onSubmit);
      dialog.addEventListener("close", onClose);
      cancel.addEventListener("click", onCancel);
      dialog.showModal();
      document.getElementById("loss-reason").focus();
    });
  }

  async function move(item, to, extra) {
    const body = new URLSearchParams();
    body.set("opportunity", item.dataset.opportunity);
    body.set("version", item.dataset.version);
    body.set("stage", to.dataset.stage);
    body.set("filters", board.dataset.filters || "");
    body.set("next", window.location.pathname + window.location.search);
    if (extra) {
      for (const [name, value] of extra.entries()) body.set(name, value);
    }
    const response = await fetch(board.dataset.moveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      body: body,
    });
    const template = document.createElement("template");
    template.innerHTML = await response.text();
    const message = template.content.getElementById("board-move-message");
    return { ok: response.ok, content: template.content, text: message ? message.textContent.trim() : "" };
  }

  async function onEnd(event) {
    const item = event.item;
    const from = event.from;
    const to = event.to;
    if (from === to) return;
    const next = item.boardNext;
    let extra = null;
    if (to.hasAttribute("data-lost")) {
      extra = await askLossReason(item);
      if (extra === null) {
        putBack(item, from, next);
        announce("Not moved: no loss reason was given.", true);
        return;
      }
    }
    item.setAttribute("aria-busy", "true");
    let result;
    try {
      result = await move(item, to, extra);
    } catch (error) {
      result = { ok: false, text: "The board could not reach the server; try again." };
    }
    item.removeAttribute("aria-busy");
    if (!result.ok) {
      putBack(item, from, next);
      announce(result.text || "The card was not moved.", true);
      return;
    }
    const card = result.content.querySelector("[data-card]");
    if (card) item.replaceWith(card);
    result.content.querySelectorAll(".board-figures[id]").forEach(function (summary) {
      const current = document.getElementById(summary.id);
      if (current) current.replaceWith(summary);
    });
    announce(result.text, false);
  }

  board.querySelectorAll(".board-cards").forEach(function (list) {
    window.Sortable.create(list, {
      group: "board",
      sort: false,
      draggable: "[data-card]",
      filter: "a, select, button, input, label",
      preventOnFilter: false,
      forceFallback: true,
      fallbackTolerance: 3,
      animation: 150,
      onStart: function (event) { event.item.boardNext = event.item.nextElementSibling; },
      onEnd: onEnd,
    });
  });
})();
