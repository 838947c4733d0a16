// Waits for the card app's answer and moves on by itself; without JavaScript the "next" button does it.
(function () {
  "use strict";
  var section = document.querySelector(".signing");
  if (!section || !section.querySelector("#card-app-link")) return; // absent: the page says it has ended
  var statusUrl = section.getAttribute("data-status-url");
  var form = document.getElementById(section.getAttribute("data-complete-form"));
  var statusLine = document.getElementById("signing-status");
  var lang = document.documentElement.lang === "en" ? "en" : "ja";
  var texts = {
    signed: { ja: "確認できました。移動しています…", en: "Confirmed. Moving on…" },
    expired: { ja: "有効期限が切れました。「最初からやり直す」から、もう一度お進みください。", en: "This has expired. Use “Start again” to begin anew." },
  };
  var delay = 1500;
  var stopped = false;

  function show(message, isError) {
    statusLine.textContent = message;
    statusLine.classList.toggle("signing__status--error", !!isError);
  }
  // A request that can no longer be signed: nothing left to scan, open or press.
  function end(message) {
    stopped = true;
    show(message, true);
    form.hidden = true;
    section.querySelectorAll(".signing__qr, .signing__open").forEach(function (el) { el.hidden = true; });
    document.getElementById("signing-again").hidden = false;
  }

  function poll() {
    if (stopped) return;
    fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.status === "signed") {
          stopped = true;
          show(texts.signed[lang], false);
          form.submit();
        } else if (body.status === "refused") {
          end(body.message ? body.message[lang] + " / " + body.message[lang === "ja" ? "en" : "ja"] : "");
        } else if (body.status === "expired" || body.status === "consumed") {
          end(texts.expired[lang]);
        } else {
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () { window.setTimeout(poll, delay * 2); });
  }
  window.setTimeout(poll, delay);
})();
