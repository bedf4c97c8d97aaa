"""The web app of ``digitrec-serve``: one page, its WebSocket, and a JSON API beside it.

- ``GET /``: the page (``static/``: plain HTML, JavaScript and CSS, served by the package).
- ``WS /ws``: binary messages of a 4-byte frame id and a JPEG; each answer is the reading of the
  newest frame (older ones are dropped while the reader is busy, never queued).
- ``POST /api/predict`` (``image``): the record ``digitrec-predict`` prints for it.
- ``POST /api/capture`` (``image``, ``digit``): saved through the capture writer.
- ``POST /api/undo``: the last save of this server goes to ``<capture_root>/trash/``.
- ``GET /api/status``: model, preprocessing, counts per digit, the page's settings.

With a ``token`` every request and socket must carry it (``?token=``, the ``X-Digitrec-Token``
header, or the cookie the page sets). Errors are JSON ``{"error": ...}`` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import struct
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from digitrec.data.captures import CaptureError, CaptureWriter, digit_counts, move_to_trash
from digitrec.inference import Recognizer
from digitrec.inference.records import reading_record
from digitrec.inference.smoothing import TextSmoother
from digitrec.serve.frames import LatestFrame

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_COOKIE = "digitrec_token"
TOKEN_HEADER = "X-Digitrec-Token"
_ID = struct.Struct(">I")


def decode_image(data: bytes, name: str) -> np.ndarray:
    """The image in an upload, or a 415 naming the file when it is none."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise HTTPException(415, f"{name!r} is not an image file (PNG, JPEG, BMP, TIFF, WebP)")
    return image


def _png_data_url(image: np.ndarray) -> str:
    ok, encoded = cv2.imencode(".png", image)
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode() if ok else ""


def create_app(
    recognizer: Recognizer,
    writer: CaptureWriter,
    token: str | None = None,
    max_upload_bytes: int = 10 * 2**20,
    page: dict[str, Any] | None = None,
    smoothing: int = 5,
) -> FastAPI:
    """The app reading with ``recognizer`` and saving through ``writer``."""
    app = FastAPI(title="digitrec", docs_url=None, redoc_url=None)
    saved: list[Path] = []  # this server's saves, for undo
    lock = asyncio.Lock()  # one save or undo at a time

    def allowed(request: Request | WebSocket) -> bool:
        if token is None:
            return True
        given = (
            request.query_params.get("token")
            or request.headers.get(TOKEN_HEADER)
            or request.cookies.get(TOKEN_COOKIE)
        )
        return given is not None and secrets.compare_digest(given, token)

    @app.middleware("http")
    async def check_token_and_size(request: Request, call_next):
        if not allowed(request):
            return JSONResponse(
                {"error": "a token is required: open the URL digitrec-serve printed"}, 401
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_upload_bytes + 2**16:
            too_big = f"upload of {int(length):,} bytes is over the limit of {max_upload_bytes:,}"
            return JSONResponse({"error": too_big}, 413)
        response = await call_next(request)
        if token is not None and request.query_params.get("token") == token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(HTTPException)
    async def json_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": error.detail}, error.status_code)

    @app.exception_handler(RequestValidationError)
    async def missing_field(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = ", ".join(str(e["loc"][-1]) for e in error.errors())
        return JSONResponse({"error": f"missing or malformed form field(s): {fields}"}, 422)

    async def read_upload(upload: UploadFile) -> tuple[np.ndarray, str]:
        name = Path(upload.filename or "upload").name  # shown only, never used as a path
        data = await upload.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise HTTPException(
                413, f"{name!r} is over the upload limit of {max_upload_bytes:,} bytes"
            )
        return decode_image(data, name), name

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/status")
    async def status() -> dict[str, Any]:
        return {
            "model": Path(recognizer.name).name,
            "preprocess": recognizer.inputs.config["_target_"].rsplit(".", 1)[-1],
            "capture_root": str(writer.root),
            "session": writer.session,
            "counts": digit_counts(writer.root),
            "page": page or {},
        }

    @app.post("/api/predict")
    async def predict(image: Annotated[UploadFile, File()]) -> dict[str, Any]:
        array, name = await read_upload(image)
        reading = await asyncio.to_thread(recognizer.read, array)
        return reading_record(name, None, list(reading.digits), reading.text)

    @app.post("/api/capture")
    async def capture(
        image: Annotated[UploadFile, File()], digit: Annotated[str, Form()]
    ) -> dict[str, Any]:
        if digit.strip() not in {str(d) for d in range(10)}:
            raise HTTPException(422, f"digit must be 0-9, got {digit!r}")
        array, _ = await read_upload(image)
        async with lock:
            try:
                path = await asyncio.to_thread(writer.save, array, int(digit))
            except CaptureError as error:
                raise HTTPException(400, str(error)) from None
            saved.append(path)
        crop = await asyncio.to_thread(recognizer.locate, array)
        return {
            "path": path.relative_to(writer.root).as_posix(),
            "digit": int(digit),
            "counts": digit_counts(writer.root),
            "crop": _png_data_url(crop.image) if crop is not None else None,
        }

    @app.post("/api/undo")
    async def undo() -> dict[str, Any]:
        async with lock:
            while saved and not saved[-1].is_file():
                saved.pop()  # moved or removed by someone else meanwhile
            if not saved:
                raise HTTPException(409, "nothing to undo: this server has saved no frame")
            moved = move_to_trash(writer.root, saved.pop())
        return {
            "moved_to": moved.relative_to(writer.root).as_posix(),
            "counts": digit_counts(writer.root),
        }

    @app.websocket("/ws")
    async def live(socket: WebSocket) -> None:
        if not allowed(socket):
            await socket.close(code=1008, reason="a token is required")
            return
        await socket.accept()
        frames: LatestFrame[tuple[int, bytes]] = LatestFrame()
        smoother = TextSmoother(window=smoothing)
        reader = asyncio.create_task(_answer(socket, frames, recognizer, smoother))
        try:
            while True:
                message = await socket.receive_bytes()
                if len(message) > _ID.size:
                    frames.put((_ID.unpack_from(message)[0], message[_ID.size :]))
        except (WebSocketDisconnect, RuntimeError):
            pass  # the page went away: nothing to clean up but the reader
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    return app


async def _answer(
    socket: WebSocket,
    frames: LatestFrame[tuple[int, bytes]],
    recognizer: Recognizer,
    smoother: TextSmoother,
) -> None:
    """Read the newest frame, answer, repeat."""
    while True:
        frame_id, data = await frames.take()
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            await socket.send_json({"id": frame_id, "error": "not a JPEG frame"})
            continue
        reading = await asyncio.to_thread(recognizer.read, image)
        await socket.send_json(
            {
                "id": frame_id,
                "text": reading.text,
                "smoothed": smoother.update(reading.text),
                "digits": [
                    {"digit": p.digit, "confidence": round(p.confidence, 4), "box": list(p.box)}
                    for p in reading.digits
                ],
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "dropped": frames.dropped,
            }
        )
