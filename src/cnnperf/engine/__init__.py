"""The CNN engine: per-image forward, backward and SGD update as Numba kernels.

Importing this package is cheap: names resolve on first use (PEP 562). The pure NumPy parts
(`layout`, `store`, `kinds`) never import Numba; the kernel wrappers (`api`) load, or on a cold
cache compile, the kernels when first touched. The API the CHAOS trainer uses:

- `build_layout(spec)` -> `Layout` (offsets; pure NumPy)
- `init_weights(layout, seed, dtype)` -> the shared weight store (flat, 64-byte aligned blocks)
- `new_workspace(layout, dtype, worker=(k, P))` -> one worker's network instance (private buffers;
  worker k of P > 1 writes the shared weights in `DEFAULT_ORDER`, one of `WRITE_ORDERS`)
- `compile_kernels(layout)`: compile (or load) the training loop, on a cold cache with two cores
- `train_images(layout, weights, ws, images, labels, lo, hi, lr)` -> (errors, loss sum)
- `evaluate_images(layout, weights, ws, images, labels, lo, hi)` -> (errors, loss sum)
- `forward_image`, `loss_and_gradient`, `loss_only` (float64 check path), `layer_params`,
  `dense_conv_weights` (a table convolution as its masked dense weights)
- `layer_paths(spec)` -> the kernel path and shape numbers per layer (pure Python)
- `profile_layers(layout, weights, ws, images, labels, lo, hi, lr)` -> `LayerTimes` (trains as
  `train_images`, timing every layer's forward and backward with the cycle counter)
"""

from __future__ import annotations

import importlib

_HOME = {
    "Layout": "layout", "build_layout": "layout",
    "Workspace": "store", "aligned_zeros": "store", "init_weights": "store", "layer_params": "store",
    "new_workspace": "store", "weighted_layers": "store", "dense_conv_weights": "store",
    "WRITE_ORDERS": "store", "DEFAULT_ORDER": "store",
    "train_images": "api", "evaluate_images": "api", "forward_image": "api", "loss_and_gradient": "api",
    "loss_only": "api", "LayerTimes": "profile", "profile_layers": "profile",
    "LayerPath": "paths", "layer_paths": "paths", "compile_kernels": "warm",
}
__all__ = ["DEFAULT_ORDER", "WRITE_ORDERS", "LayerPath", "LayerTimes", "Layout", "Workspace", "aligned_zeros",
           "build_layout", "compile_kernels", "dense_conv_weights", "evaluate_images", "forward_image", "init_weights",
           "layer_params", "layer_paths", "loss_and_gradient", "loss_only", "new_workspace", "profile_layers",
           "train_images", "weighted_layers"]


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")  # submodules: engine.layers, engine.kernels, ...
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
