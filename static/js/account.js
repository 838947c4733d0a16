// /account/: live state while the bank checks an application, and bank/branch suggestions in the form.
// Without JavaScript the page refreshes itself while checking, and the form takes codes or exact names.
(function () {
  "use strict";
  var application = document.getElementById("application");
  if (application && application.getAttribute("data-state") === "checking") {
    var statusUrl = application.getAttribute("data-status-url");
    var poll = function () {
      fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          if (body.done) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 800);
  }

  var form = document.getElementById("account-form");
  if (!form) return;
  var banksUrl = form.getAttribute("data-banks-url");
  var bank = document.getElementById("bank");
  var branch = document.getElementById("branch");
  var japanPost = document.getElementById("japan-post");

  function suggest(url, query, listId) {
    var list = document.getElementById(listId);
    if (!query.trim()) { list.innerHTML = ""; return; }
    fetch(url + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (body) {
        list.innerHTML = "";
        body.results.forEach(function (item) {
          var option = document.createElement("option");
          option.value = item.code;
          option.label = item.name + " (" + item.code + ")";
          option.textContent = item.name + " (" + item.code + ")";
          list.appendChild(option);
        });
      })
      .catch(function () {});
  }
  function bankCode() { return /^\d{4}$/.test(bank.value.trim()) ? bank.value.trim() : ""; }
  function showJapanPost() {
    japanPost.hidden = bankCode() !== "" && bankCode() !== form.getAttribute("data-japan-post");
  }
  var timer = null;
  function debounce(fn) { window.clearTimeout(timer); timer = window.setTimeout(fn, 150); }
  bank.addEventListener("input", function () {
    showJapanPost();
    debounce(function () { suggest(banksUrl, bank.value, "bank-options"); });
  });
  branch.addEventListener("input", function () {
    var code = bankCode();
    if (!code) return;
    debounce(function () { suggest(banksUrl + code + "/branches/", branch.value, "branch-options"); });
  });
  showJapanPost();
})();
