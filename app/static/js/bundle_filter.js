// Narrow the bundle list while typing; without JavaScript the form submits ?q= instead.
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("bundle-filter");
    var items = document.querySelectorAll("#bundle-list li");
    var none = document.getElementById("bundle-none");
    var count = document.getElementById("bundle-count");
    if (!input || !items.length || !count) { return; }
    var template = count.dataset.template || "__N__";
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase(), shown = 0;
      items.forEach(function (li) {
        var match = li.dataset.search.indexOf(needle) !== -1;
        li.hidden = !match;
        if (match) { shown++; }
      });
      if (none) { none.hidden = shown > 0; }
      count.textContent = template.replace("__N__", shown);
    });
  });
})();
