// Kirim Onboarding Portal: the little behaviour that pages need beyond htmx.
// Loaded as a file (never inline) so that the Content-Security-Policy stays strict.
(function () {
  "use strict";
  // Copy buttons: <button data-copy="#id"> copies the value or text of #id.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) return;
    var text = src.value || src.textContent;
    var done = function () {
      var old = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = old; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      src.select && src.select();
      document.execCommand("copy");
      done();
    }
  });
})();
