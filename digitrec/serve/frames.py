"""A one-frame mailbox between a WebSocket's reader and the reading loop."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestFrame(Generic[T]):
    """Holds the newest frame only: a frame not yet taken when a newer one arrives is dropped
    (counted in ``dropped``), so a reader slower than the camera never lags behind it."""

    def __init__(self) -> None:
        self._frame: T | None = None
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, frame: T) -> None:
        """Offer a frame, replacing one still waiting."""
        if self._frame is not None:
            self.dropped += 1
        self._frame = frame
        self._ready.set()

    async def take(self) -> T:
        """The newest frame, waiting for one when there is none."""
        await self._ready.wait()
        self._ready.clear()
        frame, self._frame = self._frame, None
        assert frame is not None
        return frame
