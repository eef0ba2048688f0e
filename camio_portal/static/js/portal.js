/* Camio Portal: the few page behaviours that need script. Each works from data
   attributes on the page, and every page still works without it. */
(function () {
  "use strict";

  // Copy buttons: <button class="copy" data-copy="element id">.
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent;
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      }, function () { button.textContent = "Select the text to copy it"; });
    });
  });

  // Searchable pickers: <input class="picker-find" data-picker="fieldset id">; ticked
  // items stay shown.
  document.querySelectorAll("input.picker-find[data-picker]").forEach(function (find) {
    var picker = document.getElementById(find.dataset.picker);
    find.hidden = false;
    find.addEventListener("input", function () {
      var wanted = find.value.trim().toLowerCase();
      picker.querySelectorAll(".picker-item").forEach(function (item) {
        item.hidden = wanted !== "" && item.textContent.toLowerCase().indexOf(wanted) < 0 &&
          !item.querySelector("input").checked;
      });
    });
  });

  // The one time-zone policy: the server writes <time datetime="...Z"> in UTC; here each
  // shows in the browser's zone, named, with the UTC time on hover (its title).
  function zoneOf(when) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, {timeZoneName: "short"}).formatToParts(when);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") { return parts[i].value; }
      }
    } catch (e) { /* an old browser: the offset below */ }
    var minutes = -when.getTimezoneOffset();
    return "UTC" + (minutes >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(minutes) / 60)) + ":" +
      pad(Math.abs(minutes) % 60);
  }
  document.querySelectorAll("time[datetime]").forEach(function (time) {
    var when = new Date(time.getAttribute("datetime"));
    if (isNaN(when)) { return; }
    var shown = when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" + pad(when.getDate()) +
      " " + pad(when.getHours()) + ":" + pad(when.getMinutes());
    if (time.hasAttribute("data-seconds")) { shown += ":" + pad(when.getSeconds()); }
    time.textContent = shown + " " + zoneOf(when);
  });

  // Times in the browser's zone: a form with data-utc-initial shows its UTC
  // input[data-utc] values in local time, and its hidden tz_offset tells the server the
  // zone the values were typed in.
  function pad(n) { return String(n).padStart(2, "0"); }
  document.querySelectorAll("input[name=tz_offset]").forEach(function (offset) {
    offset.value = new Date().getTimezoneOffset();
  });
  document.querySelectorAll("form[data-utc-initial] input[data-utc]").forEach(function (input) {
    if (!input.value) { return; }
    var when = new Date(input.value + ":00Z");
    if (isNaN(when)) { return; }
    input.value = when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" +
      pad(when.getDate()) + "T" + pad(when.getHours()) + ":" + pad(when.getMinutes());
  });
  if (document.querySelector("input[data-utc]")) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll(".field .help").forEach(function (help) {
      if (help.textContent.indexOf("browser's time zone") >= 0) {
        help.textContent = "In your time zone, " + zone + ".";
      }
    });
  }
})();
