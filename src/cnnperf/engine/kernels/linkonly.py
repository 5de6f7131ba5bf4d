"""Link-only compilation of `inner_kernel`s: LLVM works on their code once, in their callers.

Numba makes every compiled function a library of its own: it optimises the library's module
(module passes at -O3), turns it into machine code in the JIT, and links the optimised module into
each caller's library, whose module passes optimise the linked code again (inlining it) and whose
machine code contains it. A function that only kernels call never runs its own machine code, so
`LinkOnlyLibrary` skips both: a library keeps Numba's function passes and is finalised without
module passes or machine code. The top-level kernel (`kernels.network.run_images`) then runs the
module passes once over everything. A cold compile does about 1.5 s less LLVM work for a preset;
the step time is the same within the noise (`benchmarks/engine.py`).

Such a library is cached as LLVM bitcode (Numba's own `serialize_using_bitcode`). With a Numba
whose internals differ from these (checked at import), `inner_kernel`s compile as any kernel does.
"""

from __future__ import annotations

from numba.core.codegen import JITCodeLibrary
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_machinery import register_pass
from numba.core.typed_passes import NativeLowering

_HOOKS = ("_optimize_final_module", "_finalize_final_module", "_finalize_dynamic_globals",
          "_verify_declare_only_symbols", "serialize_using_bitcode", "get_pointer_to_function")
SUPPORTED = all(hasattr(JITCodeLibrary, h) for h in _HOOKS) and hasattr(DefaultPassBuilder, "define_nopython_pipeline")


class LinkOnlyLibrary(JITCodeLibrary):
    """A library only linked into other libraries: no module passes, no machine code."""

    def _optimize_final_module(self):
        pass  # the caller's module passes optimise this code where it is inlined

    def _finalize_final_module(self):
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        self._finalized = True

    def get_pointer_to_function(self, name):
        self._ensure_finalized()
        return 0  # no entry point: the dispatcher (`base.KernelOnly`) refuses Python calls

    @property
    def codegen(self):
        return _NoEnvCodegen(self._codegen)

    def serialize_using_object_code(self):
        return self.serialize_using_bitcode()


class _NoEnvCodegen:
    """Numba's codegen, except that setting the environment of a function without machine code
    (its global is not in the JIT) does nothing: each caller sets the one of its linked copy."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def set_env(self, env_name, env):
        pass


@register_pass(mutates_CFG=True, analysis_only=False)
class LinkOnlyLowering(NativeLowering):
    """Numba's lowering, into a `LinkOnlyLibrary`."""

    _name = "cnnperf_link_only_lowering"

    def run_pass(self, state):
        if state.library is None:
            state.library = LinkOnlyLibrary(state.targetctx.codegen(), state.func_id.func_qualname)
            state.library.enable_object_caching()
        return super().run_pass(state)


class LinkOnlyCompiler(CompilerBase):
    """Numba's nopython pipeline with `LinkOnlyLowering` in place of `NativeLowering`."""

    def define_pipelines(self):
        pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm.passes = [(LinkOnlyLowering if p is NativeLowering else p, d) for p, d in pm.passes]
        return [pm]
