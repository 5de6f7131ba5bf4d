"""Connection tables of convolution layers: checking a given table and drawing a random one.

Random tables are drawn with SplitMix64 and a partial Fisher-Yates shuffle written out here,
so the same (seed, layer) gives the same table on every machine and NumPy version.
"""

from __future__ import annotations

from collections.abc import Iterator

from cnnperf.errors import CnnperfError

_MASK = (1 << 64) - 1


def _splitmix64(state: int) -> Iterator[int]:
    while True:
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        yield z ^ (z >> 31)


def random_table(seed: int, layer: int, in_maps: int, maps: int, fan_in: int) -> tuple[tuple[int, ...], ...]:
    """For each of `maps` output maps, `fan_in` distinct input maps out of `in_maps` (sorted),
    drawn uniformly and independently per map from the stream of (seed, layer)."""
    draw = _splitmix64((seed * 0xD1B54A32D192ED03 + layer) & _MASK)
    rows = []
    for _ in range(maps):
        pool = list(range(in_maps))
        for k in range(fan_in):
            j = k + next(draw) % (in_maps - k)
            pool[k], pool[j] = pool[j], pool[k]
        rows.append(tuple(sorted(pool[:fan_in])))
    return tuple(rows)


def check_table(table: tuple[tuple[int, ...], ...], i: int, in_maps: int, maps: int) -> tuple[tuple[int, ...], ...]:
    """The table with sorted rows, or a one-line error naming the bad row and the fix."""
    if not table:
        raise CnnperfError(f'layer {i}: connections = "table" needs a table: one list of input maps per output map')
    if len(table) != maps:
        raise CnnperfError(f"layer {i}: the table has {len(table)} rows but the layer has {maps} maps; "
                           "give one row of input maps per output map")
    rows = []
    for m, row in enumerate(table):
        if not row:
            raise CnnperfError(f"layer {i}: table row {m} is empty; connect every output map to at least one input map")
        for c in row:
            if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < in_maps:
                raise CnnperfError(f"layer {i}: table row {m} names input map {c!r}, but the input has {in_maps} maps "
                                   f"(0..{in_maps - 1})")
        if len(set(row)) != len(row):
            twice = next(c for c in row if row.count(c) > 1)
            raise CnnperfError(f"layer {i}: table row {m} names input map {twice} twice; list each input map once")
        rows.append(tuple(sorted(row)))
    return tuple(rows)
