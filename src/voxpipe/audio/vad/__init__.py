"""Voice-activity detection for pipelines: ``VADAnalyzer``, ``VADParams``, ``VADState`` and the Silero
analyzer. Give one to an input transport (``vad_analyzer=`` in its params) and it emits
``UserStartedSpeakingFrame``/``UserStoppedSpeakingFrame`` (and interruptions) from the user's audio.

``SileroVADAnalyzer`` is imported from :mod:`voxpipe.audio.vad.silero` (it needs ``voxpipe[vad]``).
"""

from voxpipe.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

__all__ = ["VADAnalyzer", "VADParams", "VADState"]
