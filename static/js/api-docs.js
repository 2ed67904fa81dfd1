// The API documentation page: Swagger UI on the schema, trying requests with the session
// (the page's CSRF token goes with every request; the cookie is not readable by scripts).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("swagger-ui");
  if (!node || !window.SwaggerUIBundle) {
    return;
  }
  window.SwaggerUIBundle({
    url: node.dataset.schemaUrl,
    domNode: node,
    deepLinking: true,
    requestInterceptor: function (request) {
      request.headers["X-CSRFToken"] = node.dataset.csrfToken;
      return request;
    },
  });
});
