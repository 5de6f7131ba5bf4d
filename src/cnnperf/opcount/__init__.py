"""cnnperf.opcount"""
