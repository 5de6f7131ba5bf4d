"""cnnperf.validation"""
