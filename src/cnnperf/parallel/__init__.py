"""cnnperf.parallel"""
