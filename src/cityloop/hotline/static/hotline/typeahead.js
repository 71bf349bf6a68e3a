/* Type-to-find for the long pickers (650 categories, 439 units): a search box before every
 * select[data-typeahead] hides the options that do not match what is typed and, in a single select,
 * chooses the first one that does. Without this script the select is the grouped <optgroup> list. */
(function () {
  "use strict";
  var script = document.currentScript;
  var words = script ? script.dataset : {};

  function terms(text) {
    return text.toLowerCase().split(/\s+/).filter(Boolean);
  }

  function enhance(select) {
    if (select.dataset.typeaheadReady) return;
    select.dataset.typeaheadReady = "1";
    var input = document.createElement("input");
    input.type = "search";
    input.className = "typeahead";
    input.autocomplete = "off";
    input.placeholder = words.find || "";
    input.setAttribute("aria-controls", select.id);
    input.setAttribute("data-typeahead-for", select.name);
    var label = select.id ? document.querySelector("label[for='" + select.id + "']") : null;
    input.setAttribute("aria-label", (label ? label.textContent.trim() + " · " : "") + (words.find || ""));
    var count = document.createElement("span");
    count.className = "typeahead-count";
    count.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(input, select);
    select.parentNode.insertBefore(count, select);
    var options = Array.prototype.map.call(select.options, function (option) {
      var group = option.parentNode.tagName === "OPTGROUP" ? option.parentNode.label : "";
      return { option: option, text: (option.text + " " + option.value + " " + group).toLowerCase() };
    });

    function filter() {
      var wanted = terms(input.value);
      var first = null, shown = 0;
      options.forEach(function (entry) {
        var blank = entry.option.value === "";
        var match = blank || wanted.every(function (t) { return entry.text.indexOf(t) >= 0; });
        entry.option.hidden = !match;
        if (match && !blank) {
          shown += 1;
          if (!first) first = entry.option;
        }
      });
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
      });
      if (!wanted.length) {
        count.textContent = "";
        return;
      }
      count.textContent = shown ? shown + " " + (words.count || "") : words.none || "";
      if (!select.multiple && first && select.value !== first.value) {
        select.value = first.value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }

    input.addEventListener("input", filter);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault(); // choosing is not sending the form
      if (event.key === "ArrowDown") select.focus();
    });
  }

  function run() {
    Array.prototype.forEach.call(document.querySelectorAll("select[data-typeahead]"), enhance);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
