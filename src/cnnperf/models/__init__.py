"""Performance models as plug-ins: STRATEGIES maps a name to a module with `predict` and `EQUATION`."""

from cnnperf.models import strategy_a, strategy_b, strategy_c
from cnnperf.models.base import TERMS, Prediction

STRATEGIES = {"a": strategy_a, "b": strategy_b, "c": strategy_c}

__all__ = ["Prediction", "STRATEGIES", "TERMS", "strategy_a", "strategy_b", "strategy_c"]
