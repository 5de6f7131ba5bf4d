"""cnnperf.engine"""
