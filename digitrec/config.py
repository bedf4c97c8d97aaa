"""Where the Hydra configs live, and the resolvers they use."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf


def config_dir() -> Path:
    """The ``conf/`` folder: packaged inside ``digitrec`` in a wheel, beside it in a checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"digitrec's conf/ folder is missing (looked in {package} and {package.parent})"
    )


def _sqlite_url(path: str) -> str:
    """``sqlite:///<absolute path>``, creating the folder (Optuna opens the file before Hydra
    creates the sweep dir)."""
    file = Path(path).expanduser().resolve()
    file.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{file}"


def register_resolvers() -> None:
    """Register ``${digitrec.uid:}`` (a random id fixed once per config: unique run dirs) and
    ``${digitrec.sqlite:PATH}`` (an SQLite URL whose folder exists) and
    ``${digitrec.basename:PATH}`` (the last part of a path: a run dir's name)."""
    if not OmegaConf.has_resolver("digitrec.uid"):
        # cached, so every reference in one config (and Hydra's per-job copies) sees one value
        OmegaConf.register_new_resolver(
            "digitrec.uid", lambda: secrets.token_hex(3), use_cache=True
        )
    if not OmegaConf.has_resolver("digitrec.sqlite"):
        OmegaConf.register_new_resolver("digitrec.sqlite", _sqlite_url)
    if not OmegaConf.has_resolver("digitrec.basename"):
        OmegaConf.register_new_resolver("digitrec.basename", lambda path: Path(str(path)).name)


def compose_config(config_name: str = "train", overrides: Sequence[str] = ()) -> DictConfig:
    """Compose a config outside a Hydra app (tests, benchmarks, notebooks).

    ``${hydra:...}`` interpolations are not available there: override ``paths.output_dir``.
    """
    register_resolvers()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name, overrides=list(overrides))
