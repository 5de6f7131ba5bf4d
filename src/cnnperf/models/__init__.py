"""cnnperf.models"""
