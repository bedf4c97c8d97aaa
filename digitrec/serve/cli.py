"""``digitrec-serve``: start the web app (``conf/serve.yaml``) and print the URL to open."""

from __future__ import annotations

import secrets

import hydra
from omegaconf import DictConfig
from rich.console import Console

from digitrec.config import config_dir, register_resolvers
from digitrec.data.captures import CaptureError, CaptureWriter, ensure_writable_root
from digitrec.inference import Recognizer
from digitrec.utils.cli import user_errors
from digitrec.utils.threads import for_frame_loops

register_resolvers()

#: addresses that only this machine reaches: no token needed there
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def build(cfg: DictConfig):
    """The app of ``cfg`` and its token (None when bound to this machine only)."""
    from digitrec.serve.app import create_app

    if cfg.max_upload_mb <= 0:
        raise ValueError(f"max_upload_mb must be > 0, got {cfg.max_upload_mb!r}")
    recognizer = Recognizer.load(cfg.model_path, precision=cfg.get("precision", "32"))
    writer = CaptureWriter(
        ensure_writable_root(cfg.capture_root), cfg.session, cfg.image_format, {"source": "browser"}
    )
    token = None if str(cfg.host) in LOCAL_HOSTS else secrets.token_urlsafe(24)
    app = create_app(
        recognizer,
        writer,
        token=token,
        max_upload_bytes=int(cfg.max_upload_mb * 2**20),
        page={
            "frame_width": int(cfg.frame_width),
            "jpeg_quality": float(cfg.jpeg_quality),
            "max_fps": float(cfg.max_fps),
        },
        smoothing=int(cfg.smoothing),
    )
    return app, token


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="serve")
def main(cfg: DictConfig) -> None:
    """Serve until Ctrl-C; a bad model path, capture root or setting is one line on stderr."""
    import uvicorn

    for_frame_loops()
    with user_errors(CaptureError):
        app, token = build(cfg)
    shown = "127.0.0.1" if str(cfg.host) in LOCAL_HOSTS | {"0.0.0.0"} else cfg.host
    url = f"http://{shown}:{cfg.port}/" + (f"?token={token}" if token else "")
    Console().print(f"[bold]digitrec-serve[/bold] open {url}  (Ctrl-C stops)")
    uvicorn.run(app, host=str(cfg.host), port=int(cfg.port), log_level="warning")


if __name__ == "__main__":
    main()
