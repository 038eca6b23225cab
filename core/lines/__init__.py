"""One line's rendering: timing and fit, limits, emotion, the take cache, retakes, listening check."""
