"""Layer kinds as the kernels see them (descriptor column KIND); pure Python, no Numba."""

from __future__ import annotations

KIND_INPUT, KIND_CONV, KIND_MAXPOOL, KIND_FULL, KIND_OUTPUT, KIND_AVGPOOL = 0, 1, 2, 3, 4, 5
KIND_IDS = {"input": KIND_INPUT, "conv": KIND_CONV, "maxpool": KIND_MAXPOOL, "full": KIND_FULL, "output": KIND_OUTPUT,
            "avgpool": KIND_AVGPOOL}
ACTIVATION_IDS = {"scaled_tanh": 0, "tanh": 1, "sigmoid": 2, "relu": 3}
