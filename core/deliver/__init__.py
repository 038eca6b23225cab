"""Deliverables an editor takes into an NLE and past QC (``--deliver DIR``): the dub as a
timeline (OpenTimelineIO: .otio, FCP 7 XML, AAF; timeline.py) of frame-aligned take files
(takes.py), 48 kHz 24-bit stems (stems.py), and a self-contained HTML QC report
(qc_report.py, its pictures drawn by svg.py). stage.py is the job's ``deliver`` stage;
spec.py the one record every writer reads; parts.py which parts a run writes (every one
from the command line, those ticked in the desk's Export). Loudness presets:
core/audio/loudness_presets.py."""
