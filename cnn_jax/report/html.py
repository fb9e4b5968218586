"""The report page: one self-contained HTML file (inline style, images by relative path, no
network fetch), with the same tables as report.md. Its one small script marks
``<html data-images-loaded="k/n">`` once loaded, which a headless browser reads back."""

from __future__ import annotations

from html import escape

from cnn_jax.report import md
from cnn_jax.report.compare import VERDICTS, Row, counts

IMAGE_CHECK = (
    "<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
    "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;}"
    "document.documentElement.setAttribute('data-images-loaded',ok+'/'+im.length);});"
    "</script>"
)

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
td.verdict { font-weight: bold; white-space: nowrap; }
.reproduced { background: #dff3df; } .near { background: #fff3c4; }
.not-reproduced { background: #f8d7d7; } .not-measured { background: #eee; }
.inconclusive { background: #e3ecf7; } .not-comparable { background: #eee; }
figure { display: inline-block; margin: 0.5em; } figure img { max-width: 540px; }
figcaption { font-size: 12px; color: #555; } code { font-size: 12px; }
.provenance { font-size: 12px; color: #333; }
"""


def _cls(verdict: str) -> str:
    return verdict.replace(" ", "-")


def summary(rows: list[Row], walls: dict[str, float]) -> str:
    chapters = md.chapter_order(rows, walls)
    head = "".join(f"<th>{v}</th>" for v in (*VERDICTS, "wall time"))
    body = []
    for name in [*chapters, None]:
        chosen = [r for r in rows if name is None or r.entry.chapter == name]
        c = counts(chosen)
        wall = sum(walls.values()) if name is None else walls.get(name)
        cells = "".join(
            f'<td class="count {_cls(v)}" data-verdict="{v}">{c[v]}</td>' for v in VERDICTS
        )
        label = f'<a href="#{name}">{name}</a>' if name else "<b>all</b>"
        scope = "all" if name is None else name
        body.append(
            f'<tr data-chapter="{scope}"><td>{label}</td>{cells}'
            f"<td>{md.duration(wall) if wall else '–'}</td></tr>"
        )
    return f'<table id="summary"><tr><th>chapter</th>{head}</tr>{"".join(body)}</table>'


def registry(rows: list[Row], scale: str | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in md.HEADER)
    body = []
    for row in rows:
        e = row.entry
        note = f"<br><small>{escape(e.note)}</small>" if e.note else ""
        body.append(
            f'<tr class="entry" data-id="{escape(e.id)}">'
            f"<td><code>{escape(e.id)}</code></td>"
            f"<td>{escape(e.quantity)} ({escape(e.unit)}){note}</td>"
            f"<td>{escape(e.kind)}</td>"
            f"<td>{escape(md.published_text(row))}</td>"
            f"<td>{escape(md.measured_text(row))}</td>"
            f"<td>{escape(md.scale_text(row, scale))}</td>"
            f'<td class="verdict {_cls(row.verdict)}">{escape(row.label)}</td>'
            f"<td>{escape(md.rule_text(row))}"
            f"{f'<br><small>{escape(row.why)}</small>' if row.why else ''}</td>"
            f"<td>{escape(md.budget_text(row))}</td>"
            f"<td>{escape(md.full_text(row).replace('**', ''))}</td>"
            f"<td>{escape(md.source_text(row))}<br><small>{escape(e.source.title)}; "
            f"checked: {escape(e.source.checked)}</small></td></tr>"
        )
    return f'<table class="registry"><tr>{head}</tr>{"".join(body)}</table>'


def chapter_section(info, scale: str | None = None) -> str:
    chap = info.chapter
    parts = [f'<section id="{chap.name}"><h2>{escape(chap.title)}</h2>',
             f"<p>{escape(chap.question)}</p>"]  # fmt: skip
    for text, page in info.links:
        parts.append(f'<p><a class="page" href="{escape(page)}">Page: {escape(text)}</a></p>')
    for run in info.runs:
        for fig in run.figures:
            parts.append(
                f'<figure><img src="{escape(fig)}" alt="{escape(run.path)}">'
                f"<figcaption>{escape(run.path)}: {escape(fig.rsplit('/', 1)[-1])}"
                "</figcaption></figure>"
            )
    if info.rows:
        parts.append(registry(info.rows, scale))
    items = []
    for run in info.runs:
        status = "" if run.returncode in (0, None) else f" (exit {run.returncode})"
        items.append(
            f"<li><code>{escape(run.command)}</code>{escape(status)}: "
            f"{escape(md.provenance_text(run.provenance))}; wall "
            f"{escape(md.duration(run.wall_seconds))}</li>"
        )
    parts.append(
        f'<div class="provenance">Provenance:<ul>{"".join(items) or "<li>not run</li>"}</ul></div>'
    )
    return "\n".join(parts) + "</section>"


def report(chapters, rows: list[Row], study: dict, failed: list | None = None) -> str:
    """index.html: counts, total time and machine at the top, the failed runs, then one
    section per chapter."""
    walls = {c.chapter.name: c.wall_seconds for c in chapters if c.runs}
    sections = "\n".join(chapter_section(c, study.get("scale")) for c in chapters)
    failures = "".join(f"<li>{escape(t)}</li>" for t in md.failed_text(failed or []))
    failures = f'<h2>Failed runs</h2><ul id="failed">{failures}</ul>' if failures else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>cnn_jax: the study, reproduced</title><style>{STYLE}</style>{IMAGE_CHECK}</head>
<body>
<h1>cnn_jax: the study, reproduced</h1>
<p id="headline">{escape(md.headline(rows, study, failed))}</p>
<p id="machine">Machine: {escape(md.machine_text(study))}.</p>
{summary(rows, walls)}
{failures}
{sections}
</body></html>
"""
