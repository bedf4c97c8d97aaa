"""A summary of a multirun (grid or Optuna sweep): every job's overrides, metrics and checkpoint,
sorted by the optimized metric, as CSV, Markdown and a plot; repeated seeds are aggregated.

Runs after every multirun (a Hydra callback, see ``conf/hydra/default.yaml``) and as a command
over any existing sweep dir::

    digitrec-summary outputs/train/multiruns/<date>_<time>_<id>
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from digitrec.utils.plotting import pyplot

log = logging.getLogger(__name__)

SEED_KEYS = ("seed",)


@dataclass
class JobResult:
    """One job of a sweep: its number, overrides and what its ``metrics.json`` says."""

    job: str
    overrides: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    checkpoint: str | None = None
    fit_seconds: float | None = None
    status: str = "ok"

    @property
    def label(self) -> str:
        return " ".join(self.overrides) or "(defaults)"

    @property
    def configuration(self) -> str:
        """The overrides without the seed: jobs differing only by seed share a configuration."""
        kept = [o for o in self.overrides if o.split("=", 1)[0].lstrip("+~") not in SEED_KEYS]
        return " ".join(kept) or "(defaults)"


def _read_overrides(job_dir: Path) -> list[str]:
    overrides = job_dir / ".hydra" / "overrides.yaml"
    return [str(o) for o in OmegaConf.load(overrides)] if overrides.is_file() else []


def collect_jobs(sweep_dir: str | Path) -> list[JobResult]:
    """Every job dir under ``sweep_dir`` (those with a ``.hydra`` folder), in job order; a job
    without ``metrics.json`` is reported as failed."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no such sweep dir: {str(sweep_dir)!r}")
    job_dirs = [p for p in root.iterdir() if (p / ".hydra").is_dir()]
    job_dirs.sort(
        key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)
    )
    jobs = []
    for job_dir in job_dirs:
        result = JobResult(job=job_dir.name, overrides=_read_overrides(job_dir))
        metrics_file = job_dir / "metrics.json"
        if metrics_file.is_file():
            summary = json.loads(metrics_file.read_text())
            result.metrics = summary.get("metrics", {})
            result.checkpoint = summary.get("best_checkpoint") or summary.get("last_checkpoint")
            result.fit_seconds = summary.get("fit_seconds")
        else:
            result.status = "failed"
        jobs.append(result)
    return jobs


def _optimized_metric(sweep_dir: Path, jobs: list[JobResult]) -> str | None:
    for job in jobs:
        config = sweep_dir / job.job / "config.yaml"
        if config.is_file():
            name = OmegaConf.load(config).get("optimized_metric")
            if name:
                return str(name)
    return None


def _higher_is_better(metric: str) -> bool:
    return "loss" not in metric and "error" not in metric


def summarize(sweep_dir: str | Path, metric: str | None = None) -> dict[str, Path]:
    """Write ``summary.csv``, ``summary.md``, ``summary_by_config.csv`` and ``summary.png`` into
    ``sweep_dir``; returns their paths."""
    root = Path(sweep_dir)
    jobs = collect_jobs(root)
    if not jobs:
        raise ValueError(f"no job dirs (with a .hydra folder) in sweep dir {str(root)!r}")
    # show what differs between jobs; what all share is said once
    common = set.intersection(*(set(job.overrides) for job in jobs)) if len(jobs) > 1 else set()
    for job in jobs:
        job.overrides = [o for o in job.overrides if o not in common]
    shared = sorted(common)
    metric = metric or _optimized_metric(root, jobs) or "val/acc_best"
    reverse = _higher_is_better(metric)

    def key(job: JobResult) -> float:
        value = job.metrics.get(metric)
        return -math.inf if value is None else (value if reverse else -value)

    ranked = sorted(jobs, key=key, reverse=True)
    metric_names = sorted({name for job in jobs for name in job.metrics})
    paths = {
        "csv": root / "summary.csv",
        "markdown": root / "summary.md",
        "by_config": root / "summary_by_config.csv",
        "plot": root / "summary.png",
    }
    columns = ["rank", "job", "status", "overrides", *metric_names, "fit_seconds", "checkpoint"]
    rows = [
        {
            "rank": rank,
            "job": job.job,
            "status": job.status,
            "overrides": job.label,
            **{name: job.metrics.get(name, "") for name in metric_names},
            "fit_seconds": job.fit_seconds if job.fit_seconds is not None else "",
            "checkpoint": job.checkpoint or "",
        }
        for rank, job in enumerate(ranked, start=1)
    ]
    _write_csv(paths["csv"], columns, rows)
    groups = _by_configuration(ranked, metric, reverse)
    _write_csv(paths["by_config"], ["configuration", "runs", "mean", "std", "min", "max"], groups)
    paths["markdown"].write_text(_markdown(metric, reverse, rows, metric_names, groups, shared))
    _plot(paths["plot"], metric, groups)
    return paths


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _by_configuration(jobs: list[JobResult], metric: str, reverse: bool) -> list[dict[str, Any]]:
    values: dict[str, list[float]] = {}
    for job in jobs:
        bucket = values.setdefault(job.configuration, [])
        if metric in job.metrics:
            bucket.append(job.metrics[metric])
    groups = []
    for configuration, numbers in values.items():
        groups.append(
            {
                "configuration": configuration,
                "runs": len(numbers),
                "mean": statistics.fmean(numbers) if numbers else "",
                "std": statistics.stdev(numbers) if len(numbers) > 1 else 0.0 if numbers else "",
                "min": min(numbers) if numbers else "",
                "max": max(numbers) if numbers else "",
            }
        )
    groups.sort(
        key=lambda g: -math.inf if g["mean"] == "" else (g["mean"] if reverse else -g["mean"]),
        reverse=True,
    )
    return groups


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _markdown(
    metric: str,
    reverse: bool,
    rows: list[dict],
    metric_names: list[str],
    groups: list[dict],
    shared: list[str],
) -> str:
    order = "highest" if reverse else "lowest"
    lines = [f"# Sweep summary: `{metric}`, {order} first", ""]
    if shared:
        lines += [f"Every job: `{' '.join(shared)}`", ""]
    header = ["rank", "job", "status", "overrides", *metric_names, "fit s", "checkpoint"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in rows:
        cells = [row["rank"], row["job"], row["status"], f"`{row['overrides']}`"]
        cells += [_fmt(row[name]) for name in metric_names]
        cells += [_fmt(row["fit_seconds"]), row["checkpoint"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if any(group["runs"] > 1 for group in groups):
        lines += ["", f"## By configuration (over seeds): `{metric}`", ""]
        lines.append("| configuration | runs | mean | std | min | max |")
        lines.append("|---|---|---|---|---|---|")
        for g in groups:
            lines.append(
                f"| `{g['configuration']}` | {g['runs']} | {_fmt(g['mean'])} | {_fmt(g['std'])} "
                f"| {_fmt(g['min'])} | {_fmt(g['max'])} |"
            )
    return "\n".join(lines) + "\n"


def _plot(path: Path, metric: str, groups: list[dict]) -> None:
    plt = pyplot()

    shown = [g for g in groups if g["mean"] != ""]
    figure, axes = plt.subplots(figsize=(8, 0.45 * max(len(shown), 1) + 1.5))
    labels = [g["configuration"][:70] for g in shown]
    means = [g["mean"] for g in shown]
    errors = [g["std"] for g in shown]
    axes.barh(range(len(shown)), means, xerr=errors, color="tab:blue", alpha=0.8, capsize=3)
    axes.set_yticks(range(len(shown)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(f"{metric} (mean ± std over seeds)")
    if means:
        low = min(m - e for m, e in zip(means, errors, strict=True))
        high = max(m + e for m, e in zip(means, errors, strict=True))
        margin = max((high - low) * 0.2, 1e-3)
        axes.set_xlim(low - margin, high + margin)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


class SweepSummary(Callback):
    """Hydra callback: summarise the sweep dir when a multirun ends (failures do not stop it)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            paths = summarize(sweep_dir)
        except (OSError, ValueError) as err:
            log.warning("no sweep summary for %s: %s", sweep_dir, err)
            return
        log.info("sweep summary: %s", paths["markdown"])


def main(argv: list[str] | None = None) -> None:
    """``digitrec-summary SWEEP_DIR [--metric NAME]``: (re)write a sweep dir's summary."""
    parser = argparse.ArgumentParser(description="Summarise a digitrec multirun / sweep dir.")
    parser.add_argument("sweep_dir", help="e.g. outputs/train/multiruns/<date>_<time>_<id>")
    parser.add_argument("--metric", help="sort by this metric (default: optimized_metric)")
    args = parser.parse_args(argv)
    try:
        paths = summarize(args.sweep_dir, args.metric)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")
    print(paths["markdown"].read_text(), end="")
    print(f"written: {', '.join(str(p) for p in paths.values())}")


if __name__ == "__main__":
    main()
