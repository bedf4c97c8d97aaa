"""Cameras: a webcam, a video file or stream, a folder of photos, or a synthetic camera.

``open_camera(cfg)`` builds one from a ``conf/camera`` node and always releases it.
"""

from digitrec.camera.base import Camera, CameraError, Frame, open_camera

__all__ = ["Camera", "CameraError", "Frame", "open_camera"]
