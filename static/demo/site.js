/*
 * site.js: small behaviours shared by the engage-web pages.
 *
 * "Copy" buttons: <button data-copy="ID"> copies the text of the element with that id and says
 * so on the button for two seconds. No inline script: the pages run under script-src 'self'.
 */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    var label = button.textContent;
    var timer = 0;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      var text = source ? source.textContent : "";
      var done = function (message) {
        button.textContent = message;
        clearTimeout(timer);
        timer = setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { done("Copied"); },
          function () { done("Select and copy"); });
      } else {
        done("Select and copy");
      }
    });
  });
})();
