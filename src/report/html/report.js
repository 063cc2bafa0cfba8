// Filters for the diff report: each checkbox shows or hides the drifts of one severity. The
// page starts with everything shown (and reads fine without this script); `#hide=additive,
// coverage` in the address hides those severities from the start.
(function () {
  var boxes = document.querySelectorAll('input[data-severity]');
  if (!boxes.length) return;
  var hidden = {};
  var m = /hide=([a-z,]+)/.exec(location.hash);
  if (m) m[1].split(',').forEach(function (s) { hidden[s] = true; });
  function apply() {
    boxes.forEach(function (b) { hidden[b.dataset.severity] = !b.checked; });
    document.querySelectorAll('[data-drift]').forEach(function (row) {
      row.hidden = !!hidden[row.dataset.drift];
    });
    document.querySelectorAll('section.exchange').forEach(function (sec) {
      var rows = sec.querySelectorAll('[data-drift]');
      var shown = Array.prototype.some.call(rows, function (r) { return !r.hidden; });
      sec.hidden = rows.length > 0 && !shown;
    });
  }
  boxes.forEach(function (b) { b.checked = !hidden[b.dataset.severity]; b.addEventListener('change', apply); });
  apply();
})();
