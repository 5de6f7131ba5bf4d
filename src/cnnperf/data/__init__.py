"""cnnperf.data"""
