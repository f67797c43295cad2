"""The report as one self-contained HTML file: plotly.js inlined once, every figure a div of the page.

A small script first in <head> shows any script error or console.error at the top of the page, and once
the page has loaded, #render-status names the charts that drew (a `.main-svg` inside) and how many
errors there were: people see a broken page as broken, and the browser test reads the same marker.
"""
from __future__ import annotations

import html
import re

import plotly.offline

from tradematch.report.sections import Section

_HOOK = """<script>
window.reportErrors = [];
function reportError(message) { window.reportErrors.push(String(message)); }
window.addEventListener("error", function (e) { reportError("error: " + e.message); });
window.addEventListener("unhandledrejection", function (e) { reportError("unhandled rejection: " + e.reason); });
(function () { var original = console.error; console.error = function () {
  reportError(Array.prototype.join.call(arguments, " ")); original.apply(console, arguments); }; })();
window.addEventListener("load", function () { setTimeout(function () {
  var charts = document.querySelectorAll(".plotly-graph-div"), drawn = [];
  charts.forEach(function (c) { if (c.querySelector(".main-svg")) drawn.push(c.id); });
  var status = document.getElementById("render-status");
  status.dataset.charts = charts.length; status.dataset.rendered = drawn.join(" ");
  status.dataset.errors = window.reportErrors.length;
  status.textContent = drawn.length + " of " + charts.length + " charts drawn";
  if (window.reportErrors.length) { var box = document.getElementById("page-errors");
    box.textContent = window.reportErrors.join("\\n"); box.hidden = false; }
}, 0); });
</script>"""

_STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; } section { margin: 2em 0; }
#page-errors { background: #fdecea; color: #8a1c1c; padding: 1em; white-space: pre-wrap; }
#render-status { color: #666; font-size: 0.9em; } ul.docs { columns: 4; }
</style>"""


def render(title: str, meta: str, sections: list[Section]) -> tuple[str, list[str]]:
    """(the page's HTML, the ids of its chart divs)."""
    ids, body = [], []
    for section in sections:
        parts = [f"<h2>{html.escape(section.title)}</h2>", f"<p>{_text(section.text)}</p>"]
        for fig in section.figures:
            ids.append(f"chart-{len(ids) + 1}")
            parts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id=ids[-1],
                                     config={"displaylogo": False, "responsive": True}))
        parts.append(section.html)
        body.append("<section>" + "\n".join(parts) + "</section>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
{_HOOK}
{_STYLE}
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(title)}</h1><p class="meta">{html.escape(meta)}</p>
<pre id="page-errors" hidden></pre><p id="render-status">charts not drawn yet</p>
{chr(10).join(body)}
</body></html>
"""
    return page, ids


def _text(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
