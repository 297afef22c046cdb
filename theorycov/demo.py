"""`make demo`: the whole system on the bundled Sachs domain, end to end, with progress shown.

1. ingest the bundled bibliography (real papers on the pathway, summaries written for this project)
   through the language-model translator;
2. train the GFlowNet posterior on the 853 observational Sachs cells with the coverage objective;
3. write the coverage audit (HTML + JSON);
4. run three harm checks with the human bound and explain the refusals.
"""
from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

from rich.console import Console

__all__ = ["DEMO_CHECKS", "run_demo"]

DEMO_CHECKS: tuple[tuple[str, str], ...] = (
    ("inhibit Raf", "Mek < q10"),
    ("activate PKC", "P38 > q90"),
    ("inhibit Plcg", "Akt < q10"),
)


def bibliography_path() -> Path:
    return Path(str(resources.files("theorycov").joinpath("data", "bibliography.jsonl")))


def run_demo(out: Path, *, minutes: float = 3.0, power: float = 0.1, extractor: str = "auto") -> int:
    """Run the demo into folder ``out``; returns a process exit code (0 when every step worked)."""
    from theorycov.coverage.guard.explain import render_text, sign_contradictions
    from theorycov.project import Project

    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    project = Project(f"sqlite:///{(out / 'theorycov.db').resolve()}", workdir=out / "runs")
    console.rule("[bold]1/4 ingest the bundled bibliography")
    console.print(project.ingest([bibliography_path()], "sachs", extractor=extractor).table(), markup=False, highlight=False)
    hyps = project.hypotheses("sachs")
    console.print(f"{len(hyps)} hypotheses stored; e.g.")
    for t in hyps[:5]:
        console.print(f"  #{t.id} {t.render()}  [{'; '.join(t.labels())}]")
    console.rule(f"[bold]2/4 train the posterior ({minutes:g} min, coverage objective, likelihood power {power:g})")
    res = project.train("sachs", minutes=minutes, power=power)
    console.print(f"run {res.run_id}: {res.iterations} iterations; covered share {res.covered_share}; min q/p {res.min_q_over_p}")
    console.rule("[bold]3/4 coverage audit")
    report = project.audit(res.run_id, html=out / "audit.html")
    (out / "audit.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    for w in report.get("warnings", []):
        console.print(f"[bold yellow]warning:[/bold yellow] {w}")
    for r in report["rows"]:
        signs = "" if r.get("sign_support") is None else f" sign support {r['sign_support']:.2f}"
        console.print(f"  {r['verdict']:<20} p={r['p']:.3g} q={r['q']:.3g}{signs}  {r['rendering']}")
    for x in report.get("excluded", []):
        console.print(f"  left out: {x['rendering']} ({x['reason']})", style="dim", markup=False)
    console.rule("[bold]4/4 harm checks (human bound, threshold 0.5)")
    blocked, contradicted = 0, 0
    theories = {t.id: t for t in hyps}
    for action, harm in DEMO_CHECKS:
        dec = project.check(action, harm, run_id=res.run_id)
        blocked += dec.status.value == "block"
        console.print(f"[bold]{action!r} / harm {harm!r}: {dec.status.value.upper()}[/bold] (decision #{dec.decision_id}, risk {dec.risk:.2f})")
        console.print(render_text(dec), markup=False, highlight=False)
        deciding = theories.get(dec.deciding_theory_id) if dec.deciding_theory_id is not None else None
        for problem in sign_contradictions(dec.paths, deciding.hypothesis.constraints) if deciding else []:
            contradicted += 1  # never expected: the deciding theory's paths are walked with its own consistent draws
            console.print(f"warning: the explanation contradicts its deciding theory: {problem}", style="yellow", markup=False)
        console.print()
    console.rule("[bold]where everything is")
    console.print(f"database:      {project.db_url}")
    console.print(f"audit report:  {out / 'audit.html'}  (JSON: {out / 'audit.json'})")
    console.print(f"run folder:    {res.run_dir}  (checkpoint, posterior sample, metrics)")
    console.print(f"explain again: theorycov explain DECISION_ID --db {project.db_url}")
    console.print(f"dashboard:     theorycov serve --db {project.db_url}")
    console.print(f"total time:    {time.perf_counter() - t0:.0f} s; {blocked} of {len(DEMO_CHECKS)} checks blocked; "
                  f"{contradicted} explanation(s) contradicting the sign of the theory they cite")
    return 0 if contradicted == 0 else 1
