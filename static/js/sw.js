// The portal's service worker (served at /sw.js, scope "/"): shows a push as a notification and opens
// the portal page it names when tapped. A push says only that something arrived; this worker never
// fetches, caches or stores anything, and never opens a page outside the portal.
"use strict";

var DEFAULTS = { title: "マイナポータル", body: "新しいお知らせがあります", url: "/notices/" };

function portalPath(value) {
  if (typeof value !== "string" || value.charAt(0) !== "/" || value.charAt(1) === "/" ||
      value.indexOf("\\") !== -1 || value.length > 200) {
    return "/";
  }
  return value;
}

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("push", function (event) {
  var message = { title: DEFAULTS.title, body: DEFAULTS.body, url: DEFAULTS.url };
  if (event.data) {
    try {
      var data = event.data.json();
      if (data && typeof data.title === "string") message.title = data.title.slice(0, 100);
      if (data && typeof data.body === "string") message.body = data.body.slice(0, 200);
      message.url = portalPath(data && data.url);
    } catch (error) {
      // Not JSON: show the defaults rather than nothing (a push must show a notification).
    }
  }
  event.waitUntil(self.registration.showNotification(message.title, {
    body: message.body,
    tag: "myna-portal",
    renotify: true,
    data: { url: message.url },
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var path = portalPath(event.notification.data && event.notification.data.url);
  var target = new URL(path, self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (windows[i].url === target && "focus" in windows[i]) return windows[i].focus();
      }
      return self.clients.openWindow(target);
    })
  );
});
