"""``voxpipe serve``: a local OpenAI-Realtime-compatible server running a voice cascade on offline models."""
