"""Subtitle files to cues: reading every format, encodings, markup, timing lines, checks."""
