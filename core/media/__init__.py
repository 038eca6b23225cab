"""ffmpeg and ffprobe: probing, checking, progress, children that die with the dub, working copies, sample media."""
