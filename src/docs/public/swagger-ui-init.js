// Starts Swagger UI on the OpenAPI document served beside this file. A file of its own, not
// an inline script, so the page's Content-Security-Policy can refuse every inline script.
window.ui = SwaggerUIBundle({
  url: new URL('json', document.currentScript.src).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  // No badge fetched from the public validator: the page talks to this origin only.
  validatorUrl: null,
});
