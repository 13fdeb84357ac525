"""What the beta and GA OpenAI Realtime services share: the parts of a speech-to-speech realtime service
that do not depend on the protocol's shape (audio codecs, the response tracker, interruption bookkeeping,
conversation items from messages, tools on the wire, handling of server events).

Private to :mod:`voxpipe.services`: the public services are
:class:`voxpipe.services.openai_realtime_beta.OpenAIRealtimeBetaLLMService` and
:class:`voxpipe.services.openai_realtime.OpenAIRealtimeLLMService`.
"""
