"""``OUT/selftest.html``: how strong an assignment's checks are, in the class report's style.

The mutation score, the baselines, what each check kills (and which checks kill nothing
on their own), and every surviving mutant with its one-line diff and the checks it passed.
"""

from __future__ import annotations

from pathlib import Path

from propgrade.files import atomic_write_text
from propgrade.reports.fragments import check_name, points
from propgrade.reports.layout import page
from propgrade.reports.markup import Markup, Node, element
from propgrade.selftest.results import MutantOutcome, SelftestReport

SELFTEST_NAME = "selftest.html"


def _list_table(headers: list[tuple[str, str | None]], rows: Node) -> Markup:
    """A list table: one header cell per (text, class), then ``rows``."""
    head = element("tr", *[element("th", text, class_=cls) for text, cls in headers])
    return element("table", element("thead", head), element("tbody", rows), class_="list")


def _stat(label: str, value: str) -> Markup:
    return element("div", element("b", value), label)


def _summary(report: SelftestReport) -> Markup:
    counted = len(report.killed) + len(report.survivors)
    ref = report.reference
    return element(
        "div",
        _stat("mutation score", f"{report.mutation_score:.1%}"),
        _stat(f"killed of {counted} non-equivalent", str(len(report.killed))),
        _stat("survivors", str(len(report.survivors))),
        _stat("probably equivalent or accepted", str(len(report.equivalent))),
        _stat("reference", f"{points(ref.score)} / {points(ref.max_score)}"),
        _stat(f"seconds (--jobs {report.jobs})", f"{report.seconds:.0f}"),
        class_="stats",
    )


def _verdict(report: SelftestReport) -> Markup:
    if report.ok:
        return element(
            "p",
            f"Passed: the reference gets full marks, every baseline stays under its limit and "
            f"the mutation score reaches the threshold of {report.threshold:.0%}.",
            class_="note",
        )
    return element(
        "div",
        element("h2", "Selftest failed"),
        element("ul", [element("li", reason) for reason in report.failures]),
        class_="alert",
    )


def _baselines(report: SelftestReport) -> Markup:
    rows = [
        element(
            "tr",
            element("td", element("code", b.name)),
            element("td", b.description),
            element("td", f"{points(b.score)} / {points(b.max_score)}", class_="num"),
            element("td", f"{b.fraction:.0%}", class_="num"),
            element(
                "td",
                "over the limit" if b.over_limit else "ok",
                class_="status " + ("failed" if b.over_limit else "passed"),
            ),
        )
        for b in report.baselines
    ]
    limit = report.baselines[0].limit if report.baselines else 0.0
    return element(
        "section",
        element("h2", "Baselines"),
        element(
            "p",
            f"Do-nothing versions of the reference; each may score at most {limit:.0%}.",
            class_="muted",
        ),
        _list_table(
            [
                ("baseline", None),
                ("what it is", None),
                ("score", "num"),
                ("share", "num"),
                ("", None),
            ],
            rows,
        ),
    )


def _fixtures(report: SelftestReport) -> Markup:
    rows = [
        element(
            "tr",
            element("td", element("code", f.name)),
            element(
                "td",
                "holds" if f.ok else "; ".join(f.problems),
                class_="status " + ("passed" if f.ok else "failed"),
            ),
        )
        for f in report.fixtures
    ]
    return element(
        "section",
        element("h2", f"Fixtures ({len(report.fixtures)})"),
        element(
            "p",
            "Known submissions of the course's corpus, each graded against its expect.yaml.",
            class_="muted",
        ),
        _list_table([("fixture", None), ("", None)], rows),
    )


def _per_check(report: SelftestReport) -> Markup:
    kills = report.kills()
    rows = []
    for cid in sorted(kills, key=lambda c: (-kills[c][0], c)):
        total, unique = kills[cid]
        rows.append(
            element(
                "tr",
                element("td", check_name(cid)),
                element("td", str(total), class_="num"),
                element("td", str(unique), class_="num"),
                element(
                    "td",
                    "kills nothing: a candidate to drop, unless it guards a mistake no mutant makes"
                    if total == 0
                    else "kills nothing unique"
                    if unique == 0
                    else "",
                    class_="small muted",
                ),
            )
        )
    return element(
        "section",
        element("h2", "Mutants killed per check"),
        element(
            "p",
            "A check kills a mutant when it fails on its own (not because a check it requires "
            "failed); a unique kill is a mutant no other check kills.",
            class_="muted",
        ),
        element(
            "div",
            _list_table([("check", None), ("kills", "num"), ("unique", "num"), ("", None)], rows),
            class_="scroll",
        ),
    )


def _mutant_item(m: MutantOutcome, *, open_: bool) -> Markup:
    passed: list[Node] = []
    for n, cid in enumerate(m.passed):
        passed += [", " if n else None, check_name(cid)]
    return element(
        "details",
        element(
            "summary",
            element("code", m.mutant.id),
            f" {m.mutant.function} ({m.mutant.operator}): ",
            element("span", m.mutant.diff, class_="message mono"),
        ),
        element("p", m.note, class_="small") if m.note else None,
        element("p", f"Passed {len(m.passed)} checks: ", passed, class_="small")
        if passed
        else None,
        class_="group",
        open=open_,
    )


def _survivors(report: SelftestReport) -> Markup:
    survivors = report.survivors
    body: list[Node] = [element("h2", f"Surviving mutants ({len(survivors)})")]
    if not survivors:
        body.append(element("p", "None: every non-equivalent mutant fails at least one check."))
    else:
        body.append(
            element(
                "p",
                "Each passed every check yet differs from the reference on random inputs: "
                "a gap in the checks, or an equivalent to accept in grading.yaml "
                "(selftest.accepted) with the reason.",
                class_="muted",
            )
        )
        body += [_mutant_item(m, open_=True) for m in survivors]
    return element("section", body)


def _equivalents(report: SelftestReport) -> Markup:
    items = report.equivalent
    return element(
        "section",
        element("h2", f"Probably equivalent or accepted ({len(items)})"),
        element("p", "Not counted in the mutation score.", class_="muted"),
        [_mutant_item(m, open_=False) for m in items],
    )


def _all_mutants(report: SelftestReport) -> Markup:
    rows = [
        element(
            "tr",
            element("td", element("code", m.mutant.id)),
            element("td", m.mutant.function),
            element("td", m.mutant.operator),
            element("td", m.mutant.diff, class_="mono small"),
            element("td", m.status),
            element(
                "td",
                ", ".join(m.killed_by[:3]) + (" …" if len(m.killed_by) > 3 else ""),
                class_="small",
            ),
        )
        for m in report.mutants
    ]
    return element(
        "section",
        element("h2", "All mutants"),
        element(
            "details",
            element("summary", f"{len(report.mutants)} mutants, one edit each"),
            element(
                "div",
                _list_table(
                    [
                        (h, None)
                        for h in ("id", "function", "operator", "edit", "status", "killed by")
                    ],
                    rows,
                ),
                class_="scroll",
            ),
        ),
    )


def render_selftest_page(report: SelftestReport) -> str:
    return page(
        f"{report.assignment}: selftest",
        element("p", report.assignment, class_="muted"),
        element("h1", "Selftest of the checks"),
        _summary(report),
        _verdict(report),
        _baselines(report),
        _fixtures(report),
        _survivors(report),
        _per_check(report),
        _equivalents(report),
        _all_mutants(report),
    )


def write_selftest_page(out: Path, report: SelftestReport) -> Path:
    """Write ``OUT/selftest.html`` and return its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / SELFTEST_NAME
    atomic_write_text(path, render_selftest_page(report))
    return path
