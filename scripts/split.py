"""The guide's step 3 as folders: split a per-digit folder into train/ and test/ (and val/).

python scripts/split.py src=data/captures dst=data/captures_split [test_fraction=0.2 seed=0]
"""

import hydra
from omegaconf import DictConfig
from rich.console import Console

from digitrec.config import config_dir, register_resolvers
from digitrec.data.tools import split_tree
from digitrec.utils.cli import user_errors

# the run dir's name uses digitrec's resolvers: register them before Hydra composes
register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="split_folder")
def main(cfg: DictConfig) -> None:
    with user_errors():
        report = split_tree(
            cfg.src, cfg.dst, cfg.val_fraction, cfg.test_fraction, cfg.seed, cfg.mode
        )
    sides = ", ".join(f"{side}: {n}" for side, n in sorted(report.written.items()))
    Console(soft_wrap=True).print(
        f"split {sum(report.written.values())} new images into {cfg.dst} ({sides}); "
        f"{report.unchanged} already there"
    )


if __name__ == "__main__":
    main()
