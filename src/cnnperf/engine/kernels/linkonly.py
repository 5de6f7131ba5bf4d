"""Link-only compilation of `inner_kernel`s: LLVM works on their code once, in their callers.

Numba makes every compiled function a library of its own: it optimises the library's module
(module passes at -O3), turns it into machine code in the JIT, and links the optimised module into
each caller's library, whose module passes optimise the linked code again (inlining it) and whose
machine code contains it. A function that only kernels call never runs its own machine code, so a
`LinkOnlyLibrary` keeps Numba's function passes only: no module passes, no machine code. Kernels
with a Python entry (`KernelLibrary`) are optimised and made machine code as before, but link into
their callers as they were before their module passes. The top-level kernel
(`kernels.network.run_images`) runs the module passes once over everything: a preset's cold
compile does about 1.5 s less LLVM work; step times are the same within the noise.

Every copy of a function that a caller links is then the same code (Numba keeps the first of
several `linkonce_odr` definitions, so mixed forms would make the result depend on the order of
compiles), and link-only kernels are not cached (a library loaded from Numba's cache linked other
code than a fresh one, presumably the module after machine-code generation): a network compiled
after others, fresh or cached, trains bit-identically to one compiled on an empty cache.

The per-layer halves of the loop (`base.unit_kernel`: `forward_layer`, `backward_conv`,
`backward_other`) are `UnitLibrary`s instead: optimised and made machine code on their own, cached
as Numba caches a kernel, and called, not inlined, by the loops. Each is then compiled once (not
again inside every loop that calls it), two processes can compile them side by side
(`engine.warm`), and the loop's own compile links declarations only: the small preset's loop took
3.1-3.7 s to link the inlined halves and takes 0.9-1.3 s to link the units (Zen 1, noisy); step
times are the same within the noise (a call per layer and image). A loop loaded from the cache
loads its units first (`UnitLoader`, in its reload-init). With a Numba whose internals differ from
these (checked at import), kernels compile as Numba compiles them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import llvmlite.binding as ll
from numba.core import caching, compiler
from numba.core.codegen import JITCodeLibrary
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_machinery import register_pass
from numba.core.typed_passes import NativeLowering

_HOOKS = ("_optimize_final_module", "_finalize_final_module", "_finalize_dynamic_globals",
          "_verify_declare_only_symbols", "get_pointer_to_function",
          "_get_module_for_linking")
SUPPORTED = (all(hasattr(JITCodeLibrary, h) for h in _HOOKS) and hasattr(DefaultPassBuilder, "define_nopython_pipeline")
             and hasattr(caching, "CompileResultCacheImpl") and hasattr(compiler.CompileResult, "_rebuild"))


class LinkOnlyLibrary(JITCodeLibrary):
    """A library only linked into other libraries: no module passes, no machine code."""

    ALWAYS_INLINE = False  # mark the kernel's function `alwaysinline` for its callers' inliner

    def _optimize_final_module(self):
        pass  # the caller's module passes optimise this code where it is inlined

    def _finalize_final_module(self):
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        if self.ALWAYS_INLINE:  # its own function: the one defined here with external linkage (callees' are linkonce)
            for fn in self._final_module.functions:
                if not fn.is_declaration and fn.linkage == ll.Linkage.external:
                    fn.add_function_attribute("alwaysinline")
        self._finalized = True

    def get_pointer_to_function(self, name):
        self._ensure_finalized()
        return 0  # no entry point: the dispatcher (`base.KernelOnly`) refuses Python calls

    @property
    def codegen(self):
        return _NoEnvCodegen(self._codegen)


class InlinedLinkOnlyLibrary(LinkOnlyLibrary):
    """A `LinkOnlyLibrary` whose kernel LLVM inlines into every caller (the per-layer dispatchers,
    called once per layer and image: as Numba-level inlining did, without copying Numba's IR)."""

    ALWAYS_INLINE = True


class KernelLibrary(JITCodeLibrary):
    """The library of a kernel with a Python entry: optimised and made machine code as Numba does,
    but linked into callers as it was before its module passes, as a `LinkOnlyLibrary` is. So every
    copy of a function in a caller's module is the same code, whichever library it was linked from
    (Numba keeps the first of several `linkonce_odr` definitions, in an order that depends on what
    the cache held)."""

    _unoptimised = None

    def _optimize_final_module(self):
        self._unoptimised = self._final_module.clone()
        super()._optimize_final_module()

    def _get_module_for_linking(self):
        self._ensure_finalized()
        if self._shared_module is None and self._unoptimised is not None:
            for fn in self._unoptimised.functions:  # as Numba's: exported functions become linkonce_odr
                if not fn.is_declaration and fn.linkage == ll.Linkage.external:
                    fn.linkage = "linkonce_odr"
            self._shared_module = self._unoptimised
        return super()._get_module_for_linking()


class UnitLibrary(JITCodeLibrary):
    """A kernel made machine code on its own (as Numba does), which its callers call instead of
    inlining: it links into them as an empty module, so their declaration of it resolves to its code
    in the JIT. Callers inherit a `UnitLoader` of it in their reload-init, so a caller loaded from
    Numba's cache loads (or compiles) the unit first. Its symbol is its name and argument types
    only (Numba's also carries a number counting the process's compiles), so a cached caller finds
    it whichever process compiled it; a unit is one module-level function per signature."""

    def _get_module_for_linking(self):
        self._ensure_finalized()
        if self._shared_module is None:
            self._shared_module = ll.parse_assembly(str(self._codegen._create_empty_module(self.name)))
        return self._shared_module



def _hand_loader(library, py_func, sig) -> None:
    """Add the `UnitLoader` of unit `py_func` for `sig` to `library`'s reload-init, which the libraries
    linking it inherit (a compiled unit's `UnitLibrary`, or the library Numba rebuilds from the cache)."""
    library._reload_init.add(UnitLoader(py_func.__module__, py_func.__qualname__, tuple(sig)))


@dataclass(frozen=True)
class UnitLoader:
    """Compile (or load from the cache) the unit `module.qualname` for `sig` (a no-op once it is)."""

    module: str
    qualname: str
    sig: tuple

    def __call__(self):
        getattr(importlib.import_module(self.module), self.qualname).compile(self.sig)


class UnitCacheImpl(caching.CompileResultCacheImpl):
    """Numba's cache of compile results; a unit loaded from it hands its callers its `UnitLoader`, as
    a compiled one does."""

    def __init__(self, py_func):
        super().__init__(py_func)
        self._py_func = py_func

    def rebuild(self, target_context, payload):
        cres = super().rebuild(target_context, payload)
        _hand_loader(cres.library, self._py_func, cres.signature.args)
        return cres


class UnitFunctionCache(caching.FunctionCache):
    _impl_class = UnitCacheImpl


class _NoEnvCodegen:
    """Numba's codegen, except that setting the environment of a function without machine code
    (its global is not in the JIT) does nothing: each caller sets the one of its linked copy."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def set_env(self, env_name, env):
        pass


def _compiler(library_class):
    """Numba's nopython pipeline, lowering into a `library_class`."""

    @register_pass(mutates_CFG=True, analysis_only=False)
    class Lowering(NativeLowering):
        _name = f"cnnperf_lowering_{library_class.__name__}"

        def run_pass(self, state):
            if state.library is None:
                state.library = library_class(state.targetctx.codegen(), state.func_id.func_qualname)
                state.library.enable_object_caching()
            if library_class is not UnitLibrary:
                return super().run_pass(state)
            state.func_ir.func_id.unique_id = None  # its symbol without Numba's per-process function number
            done = super().run_pass(state)
            _hand_loader(state.library, state.func_id.func, state.args)
            return done

    class Compiler(CompilerBase):
        def define_pipelines(self):
            pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
            pm.passes = [(Lowering if p is NativeLowering else p, d) for p, d in pm.passes]
            return [pm]

    Compiler.__name__ = Compiler.__qualname__ = f"{library_class.__name__}Compiler"
    return Compiler


LinkOnlyCompiler = _compiler(LinkOnlyLibrary)
InlinedLinkOnlyCompiler = _compiler(InlinedLinkOnlyLibrary)
KernelCompiler = _compiler(KernelLibrary)
UnitCompiler = _compiler(UnitLibrary)
