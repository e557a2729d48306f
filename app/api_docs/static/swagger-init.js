// Starts Swagger UI on the API docs page. A file rather than the inline script Litestar's own
// plugin writes, so the page needs no 'unsafe-inline': the spec's URL comes from the page.
(() => {
  const root = document.getElementById('swagger-ui');
  if (!root || typeof SwaggerUIBundle !== 'function') return;
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Otherwise Swagger UI sends the document's URL to validator.swagger.io for a badge.
    validatorUrl: null,
    // BaseLayout without the standalone preset: its top bar draws an SVG logo with an inline
    // <style>, which the page's style-src refuses, and a URL box the docs do not need.
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
})();
