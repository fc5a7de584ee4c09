"""The page shell shared by the student pages and the class report: one inline style sheet,
no scripts, no external assets.

The Content-Security-Policy forbids every script, network request and external asset. The
pages never need them, so this only matters if escaping were ever missed somewhere: the
browser would then refuse to run the injected code instead of running it.
"""

from __future__ import annotations

from propgrade.reports.markup import Markup, Node, concat, element, trusted

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)

STYLE = """
:root { color-scheme: light; --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e;
  --fail-bg: #ffebe9; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa; --wait: #9a6700;
  --wait-bg: #fff8c5; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  sans-serif; color: #1f2328; background: #fff; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
p { margin: .4rem 0; }
a { color: #0969da; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: .875rem; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: .5rem .75rem; margin: .25rem 0 .5rem; overflow-x: auto; white-space: pre; }
pre.wrap { white-space: pre-wrap; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.small { font-size: .875rem; }
.score { font-size: 2.25rem; font-weight: 700; margin: .25rem 0; }
.score small { font-size: 1rem; font-weight: 400; color: var(--muted); }
.alert { border: 2px solid var(--fail); background: var(--fail-bg); border-radius: 6px;
  padding: .75rem 1rem; margin: 1rem 0; }
.alert h2 { border: 0; margin: 0 0 .25rem; color: var(--fail); }
.note { border-left: 4px solid var(--wait); background: var(--wait-bg); padding: .5rem .75rem;
  margin: .75rem 0; }
table { border-collapse: collapse; }
.checks { width: 100%; }
.checks th, .checks td { text-align: left; vertical-align: top; padding: .4rem .5rem;
  border-bottom: 1px solid var(--line); }
.checks td.id { width: 30%; overflow-wrap: anywhere; }
.checks .num { text-align: right; white-space: nowrap; }
.status { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: .875rem;
  white-space: nowrap; }
.status.passed { color: var(--pass); background: var(--pass-bg); }
.status.failed { color: var(--fail); background: var(--fail-bg); font-weight: 600; }
.status.hidden, .status.later { color: var(--wait); background: var(--wait-bg); }
.failure { border: 1px solid var(--line); border-left: 4px solid var(--fail); border-radius: 6px;
  padding: .75rem 1rem; margin: 1rem 0; }
.label { font-weight: 600; font-size: .875rem; margin-top: .75rem; }
.hint { background: #ddf4ff; border-radius: 6px; padding: .5rem .75rem; margin: .5rem 0; }
.compare { display: grid; grid-template-columns: 1fr 1fr; gap: .75rem; }
.compare > div { min-width: 0; }
.array-list { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; align-items: flex-start; }
.array { max-width: 100%; overflow-x: auto; }
.array table { margin: .25rem 0; }
.array-name { font-size: .875rem; color: var(--muted); white-space: nowrap; }
.array-name b { color: #1f2328; }
.message { white-space: pre-wrap; overflow-wrap: anywhere; font-weight: 500; }
.array td { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: .875rem; text-align: right; padding: .1rem .5rem; border: 1px solid var(--line); }
details { margin: .25rem 0; }
summary { cursor: pointer; color: var(--muted); font-size: .875rem; }
/* Charts scroll sideways on phones rather than shrink their text out of reach. */
.chart { overflow-x: auto; }
.chart svg { width: 100%; min-width: 34rem; height: auto; }
details.group { border: 1px solid var(--line); border-left: 4px solid var(--fail);
  border-radius: 6px; padding: .5rem 1rem; margin: .5rem 0; }
details.group > summary { color: inherit; font-size: 1rem; }
details.group > summary .message { display: block; margin-left: 1.1rem; font-weight: 400; }
.stats { display: flex; flex-wrap: wrap; gap: .5rem 2rem; }
.stats div { min-width: 8rem; }
.stats b { display: block; font-size: 1.4rem; }
.scroll { overflow-x: auto; max-width: 100%; }
.list { border-collapse: collapse; }
.list th, .list td { padding: .25rem .6rem; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
.list td.num, .list th.num { text-align: right; white-space: nowrap; }
.heat { font-size: .75rem; }
.heat th { font-weight: 400; }
.heat thead th { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
  padding: .25rem 0; vertical-align: bottom; max-height: 14rem; }
.heat tbody th { text-align: left; white-space: nowrap; padding-right: .5rem; max-width: 12rem;
  overflow: hidden; text-overflow: ellipsis; }
.heat td { width: .9rem; min-width: .9rem; height: .9rem; padding: 0; border: 1px solid #fff; }
.heat td.p, .legend .p { background: #2da44e; }
.heat td.f, .legend .f { background: #e5534b; }
.heat td.e, .legend .e { background: #8c959f; }
.heat td.m { background: #fff; }
.legend span { display: inline-block; width: .8rem; height: .8rem; vertical-align: middle;
  margin: 0 .25rem 0 1rem; }
@media (max-width: 40rem) {
  main { padding: .5rem; }
  .failure { padding: .5rem .75rem; }
  .score { font-size: 1.75rem; }
  .compare { grid-template-columns: 1fr; }
  .checks thead { display: none; }
  .checks tr { display: grid; grid-template-columns: 1fr auto auto; gap: 0 .5rem;
    border-bottom: 1px solid var(--line); padding: .4rem 0; }
  .checks td { border: 0; padding: 0 .25rem; }
  .checks td.id { width: auto; }
  .checks .status.later { white-space: normal; max-width: 8rem; text-align: center; }
  .checks td.sentence { grid-column: 1 / -1; grid-row: 2; color: var(--muted);
    font-size: .875rem; }
}
"""


def page(title: str, *body: Node, style: str = "", extra_head: Node = None, csp: str = CSP) -> str:
    """A complete HTML document with ``body`` inside ``<main>``; ``style`` (a constant of
    the page's own module, never student text) is added to the shared style sheet.
    ``extra_head`` adds elements to ``<head>``; ``csp`` replaces the policy (a served page with
    a form needs ``form-action 'self'``)."""
    head = element(
        "head",
        element("meta", charset="utf-8"),
        element("meta", http_equiv="Content-Security-Policy", content=csp),
        extra_head,
        element("meta", name="viewport", content="width=device-width, initial-scale=1"),
        element("meta", name="referrer", content="no-referrer"),
        element("meta", name="generator", content="propgrade"),
        element("title", title),
        element("style", trusted(STYLE + style)),
    )
    document: Markup = concat(
        [
            trusted("<!DOCTYPE html>\n"),
            element("html", head, element("body", element("main", *body)), lang="en"),
        ]
    )
    return document + "\n"
