"""One measured distributed run, started by the MPI sweep as `mpiexec -n R python -m
cnnperf.validation.mpi_worker REQUEST.json RESULT.json`: every rank trains its shard through
the library (no CLI), rank 0 writes the run record in the format of `validation.store`."""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from cnnperf.parallel.distributed import abort_on_error, mpi_world

    request_path, result_path = argv
    comm = mpi_world()
    try:
        with open(request_path, encoding="utf-8") as f:
            request = json.load(f)
        record = _run(comm, request)
    except (Exception, KeyboardInterrupt) as exc:  # one line from the failing rank, then the job ends
        if comm is None:
            raise
        abort_on_error(comm, exc, "validate --ranks")
        raise
    if comm is None or comm.rank == 0:
        from cnnperf.validation.store import write_mpi_run
        write_mpi_run(result_path, record)
    return 0


def _run(comm, request: dict) -> dict:
    from cnnperf.data.mnist import load_mnist
    from cnnperf.networks import resolve_network
    from cnnperf.parallel.distributed import train_distributed
    from cnnperf.parallel.trainer import Dataset, TrainConfig

    spec = resolve_network(request["net"])
    m = load_mnist(request.get("data"), request["images"], request["test_images"])
    data = Dataset(m.train_images, m.train_labels, m.test_images, m.test_labels)
    config = TrainConfig(epochs=request["epochs"], threads=request["threads"])
    from cnnperf.hardware.topology import available_cores
    result, _ = train_distributed(comm, spec, data, config, request.get("sync_every"), cores=available_cores())
    epochs = result.epochs
    return {"seconds": result.prep_seconds + sum(e.seconds for e in epochs),
            "comm_s": sum(e.train.comm_seconds for e in epochs), "test_error": epochs[-1].test.error_rate}


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
