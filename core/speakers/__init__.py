"""Who speaks each line: diarization, clustering of the lines' voices, voices and their prompts."""
