"""Who is speaking, and interruptions of the bot by the user."""

from __future__ import annotations

from dataclasses import dataclass

from voxpipe.frames.base import SystemFrame

__all__ = [
    "BotInterruptionFrame",
    "BotSpeakingFrame",
    "BotStartedSpeakingFrame",
    "BotStoppedSpeakingFrame",
    "StartInterruptionFrame",
    "StopInterruptionFrame",
    "UserStartedSpeakingFrame",
    "UserStoppedSpeakingFrame",
]


@dataclass(slots=True, kw_only=True)
class UserStartedSpeakingFrame(SystemFrame):
    """The user began to speak (from a local VAD, or from the server's turn detection).

    Attributes:
        emulated: the frame was made up to drive turn-taking, not detected in audio.
    """

    emulated: bool = False


@dataclass(slots=True, kw_only=True)
class UserStoppedSpeakingFrame(SystemFrame):
    """The user stopped speaking."""

    emulated: bool = False


@dataclass(slots=True, kw_only=True)
class StartInterruptionFrame(SystemFrame):
    """The user interrupted the bot: every processor drops queued interruptible work and stops speaking."""


@dataclass(slots=True, kw_only=True)
class StopInterruptionFrame(SystemFrame):
    """The interruption is over (the user stopped speaking)."""


@dataclass(slots=True, kw_only=True)
class BotInterruptionFrame(SystemFrame):
    """Pushed upstream to ask the input side to interrupt the bot, as if the user had spoken."""


@dataclass(slots=True, kw_only=True)
class BotStartedSpeakingFrame(SystemFrame):
    """The output transport began playing the bot's audio."""


@dataclass(slots=True, kw_only=True)
class BotStoppedSpeakingFrame(SystemFrame):
    """The output transport finished (or was interrupted in) playing the bot's audio."""


@dataclass(slots=True, kw_only=True)
class BotSpeakingFrame(SystemFrame):
    """Sent regularly while the bot's audio plays, so idle detection knows the bot is busy."""
