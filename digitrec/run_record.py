"""Resuming a run: with the overrides it was started with, never rewriting what it recorded.

``digitrec-train ckpt_path=last hydra.run.dir=R`` (a restarted or requeued job, or a user going
on with more epochs) must train the model R trained, not the defaults: Hydra composes the
config from the command line alone, so the overrides R recorded in ``R/.hydra/overrides.yaml``
are put back in front of the new ones (which win; so too for ``ckpt_path=R/checkpoints/x.ckpt``
in a new run dir), and Hydra's own record of a run resumed in place goes to
``R/.hydra/resumed-<time>/`` instead of over R's. ``train`` keeps ``R/config.yaml`` too (see
:func:`record_config`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from digitrec.utils.mapping import flatten

log = logging.getLogger(__name__)

_RECORD = Path(".hydra") / "overrides.yaml"


def _key(override: str) -> str:
    """The key an override sets (``+a.b=1``, ``~a.b``, ``model/optimizer=sgd`` -> its key)."""
    return override.split("=", 1)[0].lstrip("+~")


def _value(args: Sequence[str], key: str) -> str | None:
    """The value the last of ``args`` setting ``key`` gives it."""
    found = None
    for arg in args:
        if "=" in arg and _key(arg) == key:
            found = arg.split("=", 1)[1]
    return found


def resumed_run_dir(args: Sequence[str]) -> Path | None:
    """The run a command resumes: ``R`` for ``ckpt_path=last hydra.run.dir=R`` or for
    ``ckpt_path=R/checkpoints/<file>``, where R recorded its overrides; None for anything else
    (a fresh run, a checkpoint that is not in a run dir)."""
    ckpt_path = _value(args, "ckpt_path")
    if not ckpt_path or ckpt_path == "null":
        return None
    if ckpt_path == "last":
        run_dir = _value(args, "hydra.run.dir")
        candidate = Path(run_dir).expanduser() if run_dir else None
    else:
        checkpoint = Path(ckpt_path).expanduser()
        candidate = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None
    if candidate is None or not (candidate / _RECORD).is_file():
        return None
    return candidate


def resume_arguments(args: Sequence[str], stamp: str) -> list[str]:
    """``args`` (Hydra overrides) with a resumed run's own overrides in front, the new ones
    overriding them key by key; when it resumes in its own run dir, Hydra's record of this
    attempt goes to ``.hydra/resumed-<stamp>``. ``args`` unchanged when nothing is resumed."""
    run_dir = resumed_run_dir(args)
    if run_dir is None:
        return list(args)
    try:
        recorded = yaml.safe_load((run_dir / _RECORD).read_text()) or []
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"cannot read the run's record {run_dir / _RECORD}: {err}") from err
    if not isinstance(recorded, list) or not all(isinstance(o, str) for o in recorded):
        raise ValueError(f"{run_dir / _RECORD} is not a list of overrides")
    given = {_key(a) for a in args}
    kept = [o for o in recorded if _key(o) not in given and _key(o) != "ckpt_path"]
    target = _value(args, "hydra.run.dir")
    in_place = target is not None and Path(target).expanduser().resolve() == run_dir.resolve()
    return [*kept, *args, *([f"hydra.output_subdir=.hydra/resumed-{stamp}"] if in_place else [])]


def record_config(cfg: DictConfig, output_dir: Path) -> None:
    """Write the run's resolved config to ``config.yaml``; a resumed run (``ckpt_path`` set)
    whose ``config.yaml`` exists keeps it, logs the settings it now changes and writes its
    config to ``config.resumed.yaml`` instead."""
    record = output_dir / "config.yaml"
    if not cfg.get("ckpt_path") or not record.is_file():
        OmegaConf.save(cfg, record, resolve=True)
        return
    before = flatten(OmegaConf.to_container(OmegaConf.load(record), resolve=False))
    now = flatten(OmegaConf.to_container(cfg, resolve=True))
    changed = [
        f"{key}: {before.get(key)!r} -> {now.get(key)!r}"
        for key in sorted(set(before) | set(now))
        if key != "ckpt_path" and before.get(key) != now.get(key)
    ]
    if changed:
        log.info("resuming %s with changed settings: %s", output_dir, "; ".join(changed))
    OmegaConf.save(cfg, output_dir / "config.resumed.yaml", resolve=True)
