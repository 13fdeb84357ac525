"""Services: processors that talk to models (language, speech-to-speech) on behalf of a pipeline."""
