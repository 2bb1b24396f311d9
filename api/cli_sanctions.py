"""The sanctions commands of `corpgraph`: one entity's status, the whole graph's blocked entities, screening a file.

Registered on api.cli's app (imported there before every command is guarded). `screen` exits 3 when any row is a
hit, 0 when none is, so a pipeline can branch on it; 1 and 2 keep their meaning (a problem of the input file,
of the store or the settings).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from corpgraph.graph.analytics.results import SanctionsAnswer
from corpgraph.graph.screening import MIN_SCORE, Screened
from corpgraph.loaders.counterparties import read_counterparties
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.regimes import RULED

from corpgraph.api.cli import StoreOpt, _echo_problems, _open, app, out

HIT_EXIT = 3  # `screen`: at least one counterparty is listed or (possibly) blocked
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="date YYYY-MM-DD (default today)")]
RegimeOpt = Annotated[str, typer.Option("--regime", help=f"{', '.join(RULED)}")]


@app.command()
def sanctions(
    id: Annotated[str, typer.Argument(help="entity id, or SCHEME:ID for one of its identifiers")],
    regime: RegimeOpt = "OFAC",
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="the whole answer as JSON")] = False,
    store: StoreOpt = None,
) -> None:
    """An entity's status under a regime's ownership-and-control rule, with its contributors (docs/sanctions.md)."""
    from corpgraph.graph.service import CorpGraph

    with _open(store) as graph_store:
        answer = CorpGraph(graph_store).sanctions_status(id, regime, _day(as_of))
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(answer), ensure_ascii=False, indent=2, default=_json_value))
        return
    for line in _status_lines(answer):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def sanctioned(
    regime: RegimeOpt = "OFAC",
    as_of: AsOfOpt = None,
    first: Annotated[int, typer.Option("--first", min=1, help="list at most this many")] = 100,
    store: StoreOpt = None,
) -> None:
    """Every entity the regime's rule blocks (or may block) without a listing of its own, with its aggregate share."""
    from corpgraph.graph.service import CorpGraph

    with _open(store) as graph_store:
        page = CorpGraph(graph_store).sanctioned_by_ownership(regime, _day(as_of), first)
    for item in page.items:
        share = _share(item.aggregate_share, item.aggregate_share_min, item.aggregate_share_max)
        typer.echo(f"{item.entity}\t{item.status.value}\t{share}")
    typer.echo(f"{page.count} entit{'y' if page.count == 1 else 'ies'}{' (more with --first)' if page.more else ''}")


@app.command()
def screen(
    file: Annotated[Path, typer.Argument(help="counterparties: CSV (name,country,identifiers,id) or JSON Lines")],
    format: Annotated[str, typer.Option("--format", help="csv or json (JSON Lines, one object per row)")] = "csv",
    regimes: Annotated[str, typer.Option("--regimes", help="comma-separated")] = ",".join(RULED),
    as_of: AsOfOpt = None,
    min_score: Annotated[float, typer.Option("--min-score", min=0.0, max=1.0, help="lowest match score")] = MIN_SCORE,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write (default stdout)")] = None,
    store: StoreOpt = None,
) -> None:
    """Match each counterparty to an entity and report its listings, sanctions statuses and incident exposure;
    exits 3 when anything was hit."""
    from corpgraph.graph.screening import screen as screen_rows
    from corpgraph.graph.service import CorpGraph

    if format not in ("csv", "json"):
        raise typer.BadParameter("--format is csv or json")
    try:
        rows = read_counterparties(file)
    except InvalidInput as exc:  # a problem of the input: exit 1 after every `file:line: field: reason`
        _echo_problems(exc.problems)
        raise typer.Exit(code=1) from exc
    chosen = [r.strip() for r in regimes.split(",") if r.strip()]
    with _open(store) as graph_store:
        found = screen_rows(CorpGraph(graph_store), rows, _day(as_of), chosen, min_score)
    text = _csv(found, chosen) if format == "csv" else "".join(json.dumps(screened_json(s), ensure_ascii=False) + "\n"
                                                              for s in found)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    hits = sum(s.hit for s in found)
    typer.echo(f"{len(found)} screened, {hits} hit", err=True)
    if hits:
        raise typer.Exit(code=HIT_EXIT)


def screened_json(found: Screened) -> dict[str, Any]:
    """One screened row as JSON: the row, its match, listings, statuses and exposure."""
    match = found.match
    return {"line": found.line, "counterparty": found.counterparty.model_dump(mode="json", exclude_none=True),
            "match": None if match is None else {"entity": match.entity, "name": match.name, "score": match.score,
                                                  "reasons": match.reasons},
            "listed": [{"regime": d.regime, "authority": d.authority, "program": d.program,
                        "validFrom": d.valid_from and d.valid_from.isoformat()} for d in found.designations],
            "statuses": {s.regime: {"status": s.status.value, "aggregateShare": s.aggregate_share,
                                    "aggregateShareMin": s.aggregate_share_min,
                                    "aggregateShareMax": s.aggregate_share_max} for s in found.statuses},
            "incidents": found.incidents, "exposure": found.exposure, "hit": found.hit}


def _csv(found: list[Screened], regimes: list[str]) -> str:
    """The rows as CSV: one line per counterparty, one status and aggregate column per regime."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["line", "name", "matched_id", "matched_name", "score", "reasons", "listed",
                     *(f"{r.upper()}_{k}" for r in regimes for k in ("status", "aggregate")), "incidents",
                     "exposure", "hit"])
    for s in found:
        by_regime = {a.regime: a for a in s.statuses}
        statuses = [v for r in regimes for v in _status_cells(by_regime.get(r.upper()))]
        matched = [s.match.entity, s.match.name, s.match.score, "; ".join(s.match.reasons)] if s.match else [""] * 4
        writer.writerow([s.line, s.counterparty.name, *matched, ";".join(sorted({d.regime for d in s.designations})),
                         *statuses, s.incidents, json.dumps(s.exposure, sort_keys=True) if s.exposure else "",
                         "yes" if s.hit else "no"])
    return buffer.getvalue()


def _status_cells(answer: SanctionsAnswer | None) -> list[str]:
    """The status and aggregate cells of one regime ("" when the row matched nothing)."""
    if answer is None:
        return ["", ""]
    return [answer.status.value, _share(answer.aggregate_share, answer.aggregate_share_min, answer.aggregate_share_max)]


def _status_lines(answer: SanctionsAnswer) -> list[str]:
    """The answer as plain lines: status, aggregate, designations, contributors with their paths, notes."""
    aggregate = _share(answer.aggregate_share, answer.aggregate_share_min, answer.aggregate_share_max)
    lines = [f"{answer.entity} under {answer.regime} as of {answer.as_of}: {answer.status.value}",
             f"aggregate share of listed and blocked holders: {aggregate}"]
    lines += [f"listed: {d.regime} {d.program or ''} by {d.authority or 'an authority not named'} "
              f"from {d.valid_from or 'always'}" for d in answer.designations]
    for c in answer.contributors:
        share = "" if c.share is None else f" {_share(c.share, c.share_min, c.share_max)}"
        lines.append(f"  {c.entity} ({c.status.value}) {c.via.value}{share}")
        for path in c.paths:
            lines.append("    " + " -> ".join([path.hops[0].source] + [h.target for h in path.hops[1:]])
                         if path.hops else "    (no path found)")
    lines += [f"note: {n}" for n in answer.notes]
    return lines


def _share(point: float, low: float | None, high: float | None) -> str:
    """A share as a percentage, with its bounds when they differ."""
    text = f"{point:.4g}"
    if low is not None and high is not None and (abs(low - point) > 1e-12 or abs(high - point) > 1e-12):
        text += f" [{low:.4g}, {high:.4g}]"
    return text


def _json_value(value: Any) -> Any:
    """What json cannot write itself: records (sources) as their fields, dates and enums as text."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return str(value.value) if hasattr(value, "value") else str(value)


def _day(text: str | None) -> date | None:
    """A --as-of date, or None (today)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--as-of expects YYYY-MM-DD, got {text!r}") from None
