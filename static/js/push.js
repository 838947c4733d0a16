// The push control on /settings/notifications/: registers the service worker, subscribes this browser
// with the portal's VAPID key and posts the subscription (CSRF token in a header), or unsubscribes it.
// Without JavaScript the page says the control needs it; everything else on the page works without.
(function () {
  "use strict";
  var SUBSCRIBE_TIMEOUT_MS = 20000;
  var control = document.getElementById("push-control");
  if (!control) return;
  var nojs = document.getElementById("push-nojs");
  var statusLine = document.getElementById("push-status");
  var subscribeButton = document.getElementById("push-subscribe");
  var unsubscribeButton = document.getElementById("push-unsubscribe");
  var csrfToken = document.getElementById("push-csrf").value;
  var endpointUrl = control.getAttribute("data-subscribe-url");
  var workerUrl = control.getAttribute("data-worker-url");
  var vapidKey = control.getAttribute("data-vapid-key");
  var registered = (control.getAttribute("data-registered") || "").split(" ").filter(Boolean);
  var lang = document.documentElement.lang === "en" ? "en" : "ja";
  var texts = {
    on: { ja: "この端末(ブラウザ)で通知を受け取ります。", en: "This browser receives notifications." },
    off: { ja: "この端末(ブラウザ)では通知を受け取っていません。", en: "This browser does not receive notifications." },
    working: { ja: "処理しています…", en: "Working…" },
    unsupported: {
      ja: "このブラウザはプッシュ通知に対応していません。メールでの通知をご利用ください。",
      en: "This browser does not support push notifications. Please use e-mail instead.",
    },
    denied: {
      ja: "通知が許可されていません。ブラウザの設定でこのサイトの通知を許可してから、もう一度お試しください。",
      en: "Notifications are blocked. Allow them for this site in your browser's settings, then try again.",
    },
    failed: { ja: "登録できませんでした。もう一度お試しください。", en: "That did not work. Please try again." },
  };

  function say(message, isError) {
    statusLine.textContent = message;
    statusLine.classList.toggle("push-control__status--error", !!isError);
  }

  function show(state) {
    subscribeButton.hidden = state === "on";
    unsubscribeButton.hidden = state !== "on";
    subscribeButton.disabled = unsubscribeButton.disabled = false;
    say(texts[state][lang], false);
  }

  function busy() {
    subscribeButton.disabled = unsubscribeButton.disabled = true;
    say(texts.working[lang], false);
  }

  function fail(error) {
    subscribeButton.disabled = unsubscribeButton.disabled = false;
    var message = error && error.message && error.message[lang] ? error.message[lang] : texts.failed[lang];
    say(message, true);
  }

  function keyBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function digest(text) {
    return window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (hash) {
      return Array.prototype.map.call(new Uint8Array(hash), function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
    });
  }

  function send(method, body) {
    return fetch(endpointUrl, {
      method: method,
      credentials: "same-origin",
      redirect: "error", // a session that timed out is sent to the login page: that is a failure here
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) throw answer;
        return answer;
      });
    });
  }

  if (nojs) nojs.hidden = true;
  control.hidden = false;
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window) ||
      !window.isSecureContext) {
    say(texts.unsupported[lang], false);
    return;
  }
  var registration = navigator.serviceWorker.register(workerUrl, { scope: "/" });

  function refresh() {
    registration.then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub) return show("off");
      return digest(sub.endpoint).then(function (hex) { show(registered.indexOf(hex) !== -1 ? "on" : "off"); });
    }).catch(fail);
  }

  subscribeButton.addEventListener("click", function () {
    busy();
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        subscribeButton.disabled = false;
        say(texts.denied[lang], true);
        return null;
      }
      return registration.then(function (reg) {
        // A browser whose push service cannot be reached never settles subscribe(): give up after a while
        // and say so, instead of "working…" for ever.
        return Promise.race([
          reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(vapidKey) }),
          new Promise(function (resolve, reject) {
            window.setTimeout(function () { reject(new Error("push service timeout")); }, SUBSCRIBE_TIMEOUT_MS);
          }),
        ]);
      }).then(function (sub) {
        return send("POST", sub.toJSON()).then(function () { return digest(sub.endpoint); });
      }).then(function (hex) {
        registered.push(hex);
        show("on");
      });
    }).catch(fail);
  });

  unsubscribeButton.addEventListener("click", function () {
    busy();
    registration.then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub) return show("off");
      var endpoint = sub.endpoint;
      return sub.unsubscribe().then(function () {
        return send("DELETE", { endpoint: endpoint });
      }).then(function () { show("off"); });
    }).catch(fail);
  });

  refresh();
})();
