"""``Pipeline``: processors linked in a chain, itself usable as a processor (pipelines nest).

A pipeline adds no queue of its own: a frame given to it goes straight to its first processor (or, going
upstream, its last), and frames leaving its ends go straight to its neighbours. Nesting costs nothing per
frame.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.base import Frame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, FrameProcessorSetup

__all__ = ["Pipeline", "PipelineEdge"]


class PipelineEdge(FrameProcessor):
    """One end of a pipeline: hands frames leaving the chain to the pipeline's neighbour, without queuing.

    Args:
        owner: the pipeline (or task) whose end this is.
        direction: the direction of frames that leave through this edge.
    """

    def __init__(self, owner: FrameProcessor, direction: FrameDirection, *, name: str) -> None:
        super().__init__(name=name)
        self._owner = owner
        self._exit_direction = direction

    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        """Pass the frame on at once: out of the pipeline, or into the chain."""
        if direction is self._exit_direction:
            await self._owner.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)


class Pipeline(FrameProcessor):
    """Processors linked in order; frames flow from the first to the last (downstream) and back.

    Args:
        processors: the stages, in downstream order. Each processor may appear only once.
        name: a readable name for logs.

    Raises:
        VoxpipeUsageError: a stage is not a ``FrameProcessor`` or appears twice.
    """

    def __init__(self, processors: Sequence[FrameProcessor], *, name: str | None = None) -> None:
        super().__init__(name=name)
        stages = list(processors)
        for stage in stages:
            if not isinstance(stage, FrameProcessor):
                raise VoxpipeUsageError(
                    f"Pipeline stages must be FrameProcessor instances, got {type(stage).__name__}"
                )
        if len({id(stage) for stage in stages}) != len(stages):
            raise VoxpipeUsageError("a processor appears twice in the pipeline; create a second instance")
        self._stages = stages
        self._source = PipelineEdge(self, FrameDirection.UPSTREAM, name=f"{self.name}::Source")
        self._sink = PipelineEdge(self, FrameDirection.DOWNSTREAM, name=f"{self.name}::Sink")
        chain: list[FrameProcessor] = [self._source, *stages, self._sink]
        for upstream, downstream in itertools.pairwise(chain):
            upstream.link(downstream)

    def processors(self) -> list[FrameProcessor]:
        """The stages of this pipeline, in order."""
        return list(self._stages)

    def processors_recursive(self) -> list[FrameProcessor]:
        """Every processor inside, nested pipelines expanded (each pipeline listed before its stages)."""
        found: list[FrameProcessor] = []
        for stage in self._stages:
            found.append(stage)
            if isinstance(stage, Pipeline):
                found.extend(stage.processors_recursive())
        return found

    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        """Send the frame into the chain: to the first stage downstream, to the last upstream."""
        if direction is FrameDirection.DOWNSTREAM:
            await self._source.push_frame(frame, direction)
        else:
            await self._sink.push_frame(frame, direction)

    async def setup(self, setup: FrameProcessorSetup) -> None:
        """Set up the pipeline's edges and every stage."""
        await super().setup(setup)
        for processor in (self._source, self._sink, *self._stages):
            await processor.setup(setup)

    async def cleanup(self) -> None:
        """Clean up every stage, then the pipeline itself."""
        for processor in (*self._stages, self._source, self._sink):
            await processor.cleanup()
        await super().cleanup()
