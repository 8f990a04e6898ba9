/* The in-WeChat checkout: hands the signed payment request (JSON in the page, never
 * executed) to WeixinJSBridge, which only WeChat's own browser provides. */
"use strict";
(function () {
  var request = JSON.parse(document.getElementById("wechat-pay-request").textContent);
  document.getElementById("pay").addEventListener("click", function () {
    if (typeof WeixinJSBridge === "undefined") {
      document.getElementById("hint").hidden = false;
      return;
    }
    WeixinJSBridge.invoke("getBrandWCPayRequest", request, function (res) {
      if (res.err_msg === "get_brand_wcpay_request:ok") {
        location.reload();
      }
    });
  });
})();
