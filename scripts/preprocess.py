"""The guide's step 2 as folders: preprocess a per-digit folder into 28x28 images.

python scripts/preprocess.py src=data/captures dst=data/captures_28 [preprocess=guide]
"""

import hydra
from omegaconf import DictConfig
from rich.console import Console

from digitrec.config import config_dir, register_resolvers
from digitrec.data.tools import preprocess_tree
from digitrec.utils.cli import user_errors

# the run dir's name uses digitrec's resolvers: register them before Hydra composes
register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="preprocess_folder")
def main(cfg: DictConfig) -> None:
    with user_errors():
        report = preprocess_tree(cfg.src, cfg.dst, cfg.preprocess, cfg.image_format)
    console = Console(soft_wrap=True)
    written = ", ".join(f"{d}: {n}" for d, n in sorted(report.written.items()))
    console.print(f"wrote {sum(report.written.values())} images to {cfg.dst} ({written})")
    if report.unchanged:
        console.print(f"{report.unchanged} already there with the same pixels (left as they are)")
    if report.skipped:
        console.print(f"[yellow]skipped {len(report.skipped)}[/yellow]:")
        for reason in report.skipped:
            console.print(f"  {reason}")


if __name__ == "__main__":
    main()
