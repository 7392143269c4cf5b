"""Compiled kernels (built from csrc/). Call them through fastconv.ops, which validates arguments."""
