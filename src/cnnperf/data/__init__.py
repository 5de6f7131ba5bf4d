"""MNIST data: IDX file I/O, discovery (--data, $CNNPERF_DATA, cache), download, padding/scaling."""
