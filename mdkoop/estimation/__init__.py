"""mdkoop.estimation: streaming float64 moments, CCA / EDMD / reversible decompositions, LinearKoopmanModel."""

from mdkoop.estimation.decompositions import cca, edmd, implied_timescales, reversible
from mdkoop.estimation.model import LinearKoopmanModel
from mdkoop.estimation.moments import MomentAccumulator

__all__ = ["MomentAccumulator", "cca", "edmd", "reversible", "implied_timescales", "LinearKoopmanModel"]
