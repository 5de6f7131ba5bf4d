"""cnnperf.report"""
