"""Frame processors and the machinery that moves frames between them."""
