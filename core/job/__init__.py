"""One dub's stages, one module each; `core.job.pipeline.DubJob` runs them in order.

events  what a running job tells its listener, the stage names and their weights
runner  the stage runner: cancel checked, progress reported, time measured
lines   `LinePlan`, one line of the dub filled in stage by stage
read    the cues checked and the line plans made, before any model loads
engine  the dub's language, the engine that speaks it, each line's spoken language
extract the original's audio
analyze the master split into dialogue and background; who speaks each line
plan    each line's span and counts
voices  one prompt per speaker, its transcript, the engine's voices
render  the sampling and the emotions each request carries
listen  the listening check and the retakes
mix     the dub over the original's bed
export  the video with the dub's track
report  the report of the dub and of each line
"""
