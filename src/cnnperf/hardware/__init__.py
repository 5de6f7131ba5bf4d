"""cnnperf.hardware"""
