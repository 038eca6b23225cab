"""The model folder: what is installed and released, downloads, and the engine a dub loads."""
