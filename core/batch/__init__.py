"""Many dubs in one run: the job list, its settings and what --resume compares."""
