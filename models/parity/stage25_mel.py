"""Stage `mel` of the 2.5 set: the same mel front-end and fixture layout as 2.0."""

from models.parity.stage_mel import run  # noqa: F401  (the 2.0 stage reads this set as is)
