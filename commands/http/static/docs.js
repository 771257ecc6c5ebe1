// Swagger UI over the service's own OpenAPI document, from files shipped in the package.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
