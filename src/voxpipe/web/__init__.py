"""``voxpipe web``: a page that talks to a bot in the browser (WebRTC), one bot per visitor."""
