"""Audio of a dub: samples and streamed readers, the original's extraction, separation, mix, loudness."""
