"""Observers: watch every frame push without slowing the pipeline."""

from voxpipe.observers.base_observer import BaseObserver, FramePushed

__all__ = ["BaseObserver", "FramePushed"]
