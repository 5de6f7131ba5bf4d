"""The compiled-kernel cache is invalidated by an edit of any kernel module: Numba stamps a cached
function with its own file only, while the kernels inline each other across files."""

from numba.core.caching import NullCache

from cnnperf.engine.kernels import base, gemm, linkonly, network, update


def test_the_digest_covers_every_module_of_the_folder(tmp_path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    before = base.source_digest.__wrapped__(tmp_path)
    assert base.source_digest.__wrapped__(tmp_path) == before
    (tmp_path / "b.py").write_text("x = 2\n")  # another file than the one a function lives in
    assert base.source_digest.__wrapped__(tmp_path) != before
    (tmp_path / "b.py").write_text("x = 1\n")
    (tmp_path / "c.py").write_text("")
    assert base.source_digest.__wrapped__(tmp_path) != before


def test_kernels_are_cached_under_a_stamp_with_the_digest():
    for dispatcher in (network.run_images, network.forward_layer):
        locator = dispatcher._cache._impl.locator
        assert isinstance(locator, base.KernelsCacheLocator)
        stamp = locator.get_source_stamp()
        assert stamp[1] == base.source_digest() and stamp[0] == locator._inner.get_source_stamp()


def test_inner_kernels_are_cached_only_where_they_are_not_link_only():
    """A link-only inner kernel is compiled where a caller needs it (`kernels.linkonly`); the loop's
    units are cached, the Python twin of an entry kernel (tests, benchmarks) is not."""
    assert isinstance(update.apply_update._cache, NullCache) is linkonly.SUPPORTED
    assert isinstance(gemm.gemm_bias_nt._cache, NullCache) is linkonly.SUPPORTED
    assert not isinstance(network.backward_conv._cache, NullCache)
    assert isinstance(gemm.gemm_bias_nt.entry._cache, NullCache)
