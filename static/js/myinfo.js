// Live progress on /myinfo/: while categories are being fetched, ask for their states and show them;
// once none is fetching, reload so each card shows its "as of" time. Without JavaScript a meta refresh does it.
(function () {
  "use strict";
  var list = document.getElementById("categories");
  if (!list || list.getAttribute("data-fetching") !== "1") return;
  var url = list.getAttribute("data-status-url");
  var lang = document.documentElement.lang === "en" ? "en" : "ja";
  var words = {
    done: { ja: "取得しました", en: "Received" },
    failed: { ja: "取得できませんでした", en: "Could not be fetched" },
    quarantined: { ja: "ご本人の情報と確認できませんでした", en: "Could not be confirmed as yours" },
    stale: { ja: "更新できませんでした", en: "Could not be updated" },
  };
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        var fetching = 0;
        body.categories.forEach(function (c) {
          var item = document.getElementById("category-" + c.category);
          if (!item) return;
          if (c.state === "fetching") { fetching += 1; return; }
          if (item.getAttribute("data-state") === "fetching") {
            item.setAttribute("data-state", c.state);
            item.className = "category category--" + c.state;
            item.querySelector(".category__state").textContent = (words[c.state] || words.failed)[lang];
          }
        });
        if (fetching === 0) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 800);
})();
