// Render the case's BPMN with bpmn-js (NavigatedViewer) and mark progress.
// The container says where the XML is and which element ids are current / done.
(function () {
  function render(el) {
    var viewer = new window.BpmnJS({ container: el });
    fetch(el.dataset.src, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var marked = { current: 0, done: 0 };
        canvas.zoom("fit-viewport");
        JSON.parse(el.dataset.done || "[]").forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, "highlight-done"); marked.done++; }
        });
        JSON.parse(el.dataset.current || "[]").forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, "highlight-current"); marked.current++; }
        });
        el.dataset.markedDone = marked.done;
        el.dataset.markedCurrent = marked.current;
        el.dataset.loaded = "true";
      })
      .catch(function (err) {
        el.dataset.loaded = "error";
        el.textContent = el.dataset.errorText || String(err);
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".diagram[data-src]").forEach(render);
  });
})();
