// Prepares a page for the Jupyter widget manager (@jupyter-widgets/html-manager 1.0,
// embed-amd.js) served from the site itself. tools/bundle_assets.py publishes this file
// as _static/ml4es/widget-manager-setup.js, and _config.yml loads it after RequireJS and
// before embed-amd.js on pages that show widgets.
(function () {
  "use strict";

  // embed-amd.js defines its modules by name, and RequireJS resolves a module's URL
  // from that name against the page's folder. The manager's CSS takes the URL of its
  // Font Awesome files from that module URL, so without this mapping the fonts are
  // requested from a folder that does not exist next to each page.
  const managerDist = new URL("../npm/@jupyter-widgets/html-manager/dist", document.currentScript.src);
  window.requirejs.config({
    paths: { "@jupyter-widgets/html-manager/dist": managerDist.href },
  });

  // The manager typesets widget labels with the MathJax 2 call
  // MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]), and MathJax 3 has no Hub.
  // MathJax loads deferred, so window.MathJax is the MathJax 3 object once the
  // document is parsed, before the manager renders widgets on the window's load event.
  document.addEventListener("DOMContentLoaded", function () {
    const mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub || !mathjax.startup) {
      return;
    }
    mathjax.Hub = {
      Queue: function (...commands) {
        for (const command of commands) {
          if (!Array.isArray(command) || command[0] !== "Typeset" || !command[2]) {
            continue;
          }
          const element = command[2];
          mathjax.startup.promise
            .then(function () {
              return mathjax.typesetPromise([element]);
            })
            .catch(function (error) {
              console.error("MathJax failed to typeset a widget label:", error);
            });
        }
      },
    };
  });
})();
