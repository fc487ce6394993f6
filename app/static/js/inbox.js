// A failed htmx action (expired form, server error) must not fail silently.
(function () {
  function showFailure() {
    var live = document.getElementById("inbox-live");
    if (!live) { return; }
    live.textContent = live.dataset.failure;
    live.classList.remove("sr-only");
    live.classList.add("flash", "flash-error");
  }
  document.body.addEventListener("htmx:responseError", showFailure);
  document.body.addEventListener("htmx:sendError", showFailure);
})();
