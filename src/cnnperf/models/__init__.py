"""Performance models as closed plug-ins: one module per strategy, each implementing
`cnnperf.models.base.Strategy`; `STRATEGIES` maps the name users type to the module."""

from cnnperf.models import strategy_a, strategy_b, strategy_c, strategy_d
from cnnperf.models.base import TERMS, Prediction, Strategy

STRATEGIES: dict[str, Strategy] = {m.NAME: m for m in (strategy_a, strategy_b, strategy_c, strategy_d)}
DEFAULT_STRATEGY = strategy_b.NAME  # cnnperf.predict without a strategy: the paper's measured-times model


def available(net, profile) -> list[str]:
    """Names of the strategies that can predict `net` from `profile` (in registry order)."""
    return [name for name, s in STRATEGIES.items() if s.requires(net, profile) is None]


def distributable(net, profile) -> list[Strategy]:
    """Usable strategies whose terms are separable (not fitted to whole runs): the distributed
    model rescales their per-node terms and adds `comm`."""
    return [STRATEGIES[n] for n in available(net, profile) if not getattr(STRATEGIES[n], "WHOLE_RUN", False)]


def fitted_strategies() -> list[Strategy]:
    """Strategies fitted to validation measurements (they have `fit_runs` and `MIN_POINTS`)."""
    return [s for s in STRATEGIES.values() if hasattr(s, "fit_runs")]


__all__ = ["DEFAULT_STRATEGY", "Prediction", "STRATEGIES", "Strategy", "TERMS", "available", "distributable",
           "fitted_strategies"]
