// The book's own script (Jupyter Book loads every .js in _static). WCAG 2.1.1: a region a
// reader must scroll sideways (wide code on a phone, a long formula, a wide table) can be
// reached and scrolled from the keyboard: it gets tabindex=0 while it scrolls, also when
// it only becomes visible later (a solution opened after the page loaded) or after a
// resize. Formulas that fit are no tab stops (MathJax's inTabOrder: false).
(function () {
  const SCROLLERS = "pre, mjx-container[display='true'], .pst-scrollable-table-container, " +
                    "div.cell_output .output";
  // An inline formula wider than its line (a phone) would run off the page: it becomes a
  // box of its own that scrolls (book.css, mjx-container.wide-inline).
  function markWideInline() {
    document.querySelectorAll("mjx-container:not([display='true'])").forEach(function (m) {
      const block = m.closest("p, li, dd, dt, td, th, div");
      if (!block || m.offsetParent === null) return;
      const wide = m.classList.contains("wide-inline")
        ? m.scrollWidth > m.clientWidth + 1
        : m.getBoundingClientRect().width > block.clientWidth + 1;
      m.classList.toggle("wide-inline", wide);
    });
  }
  function markScrollable() {
    markWideInline();
    document.querySelectorAll(SCROLLERS + ", mjx-container.wide-inline").forEach(function (el) {
      const scrolls = el.scrollWidth > el.clientWidth + 1 && el.offsetParent !== null;
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.dataset.scrollTab = "1";
      } else if (!scrolls && el.dataset.scrollTab) {
        el.removeAttribute("tabindex");
        delete el.dataset.scrollTab;
      }
    });
  }
  // after the box has opened (sphinx-togglebutton shows it in a transition)
  function later() {
    window.setTimeout(markScrollable, 50);
    window.setTimeout(markScrollable, 500);
  }
  document.addEventListener("DOMContentLoaded", function () {
    markScrollable();
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(markScrollable);
    }
    document.addEventListener("click", function (e) {
      if (e.target.closest(".toggle-button, .admonition-title, summary")) later();
    });
    document.addEventListener("toggle", later, true);
    window.addEventListener("resize", later);
  });
})();
