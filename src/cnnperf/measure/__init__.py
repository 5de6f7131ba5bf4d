"""cnnperf.measure"""
