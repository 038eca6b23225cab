"""VoxCPM2 (OpenBMB, the `voxcpm` package) as Dubsmith's engine for 30 languages."""

from models.voxcpm2.engine import LANGUAGES, VoxCPM2Engine, voxcpm2_capabilities
from models.voxcpm2.files import locate

__all__ = ["LANGUAGES", "VoxCPM2Engine", "locate", "voxcpm2_capabilities"]
