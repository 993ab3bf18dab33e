// Starts Swagger UI on the element #docs. The spec URL comes from that
// element's data-spec-url attribute, so the page needs no inline script and
// works under a Content-Security-Policy of script-src 'self'.
(function () {
  "use strict";
  var el = document.getElementById("docs");
  window.ui = SwaggerUIBundle({
    url: el.dataset.specUrl,
    dom_id: "#docs",
    deepLinking: true,
    tryItOutEnabled: true,
    // The default validator badge calls validator.swagger.io; stay offline.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
