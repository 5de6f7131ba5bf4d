"""Operation counts per image (paper Tables VII, VIII) and Prep; pure functions of a NetworkSpec."""

from cnnperf.opcount.counts import TYPE_LABEL, TYPE_ORDER, LayerOps, OpCounts, count_ops
from cnnperf.opcount.paper import PAPER_OPS, PAPER_TOTALS

__all__ = ["PAPER_OPS", "PAPER_TOTALS", "TYPE_LABEL", "TYPE_ORDER", "LayerOps", "OpCounts", "count_ops"]
