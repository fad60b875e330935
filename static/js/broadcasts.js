/* Broadcast pages: show only the chosen audience's and schedule's inputs; confirm a cancel.
 *
 * Without JavaScript every input shows and the server still validates only what the
 * chosen audience needs. Live progress polling is inbox.js's (data-live pollers).
 */
(function () {
  "use strict";

  function sync(choiceSelector, partAttribute) {
    var group = document.querySelector(choiceSelector);
    if (!group) return;
    var checked = group.querySelector("input[type=radio]:checked");
    var value = checked ? checked.value : "";
    document.querySelectorAll("[" + partAttribute + "]").forEach(function (part) {
      part.hidden = part.getAttribute(partAttribute) !== value;
    });
  }

  function syncAll() {
    sync("[data-audience-choice]", "data-audience");
    sync("[data-schedule-choice]", "data-schedule");
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[type=radio]")) syncAll();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.dataset && form.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // The recipient table is not live (it can be long); once the broadcast is final (the
  // poll answers 286 and stops), it is fetched once more so it matches the counts.
  document.addEventListener("htmx:afterRequest", function (event) {
    var poller = event.detail.elt;
    if (!poller.dataset || poller.dataset.live !== "broadcast" || event.detail.xhr.status !== 286) return;
    var table = document.querySelector("[data-reload-when-final]");
    if (table && window.htmx) {
      window.htmx.ajax("GET", window.location.href, { target: table, select: "#recipients", swap: "outerHTML" });
    }
  });

  document.addEventListener("DOMContentLoaded", syncAll);
})();
