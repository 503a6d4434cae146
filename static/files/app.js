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
  // Confirmation dialogs: <a data-dialog="id"> opens <dialog id="id"> as a modal (the
  // link itself renders the dialog open for browsers without JavaScript).
  document.addEventListener("click", function (ev) {
    var opener = ev.target.closest("[data-dialog]");
    if (!opener) return;
    var dialog = document.getElementById(opener.getAttribute("data-dialog"));
    if (!dialog || !dialog.showModal) return;
    ev.preventDefault();
    if (dialog.open) dialog.close();
    dialog.showModal();
  });
  // File inputs with data-max-bytes refuse a file that is too large before it is sent
  // (the server would refuse it too, but a browser cut off mid-upload shows no page).
  document.addEventListener("change", function (ev) {
    var input = ev.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var max = Number(input.getAttribute("data-max-bytes"));
    var file = input.files && input.files[0];
    var msg = file && file.size > max ? input.getAttribute("data-too-large") : "";
    input.setCustomValidity(msg);
    var out = document.getElementById(input.getAttribute("aria-describedby"));
    if (out) out.textContent = msg;
    input.setAttribute("aria-invalid", msg ? "true" : "false");
  });
})();
