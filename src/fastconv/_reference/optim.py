"""NumPy twins of fastconv.ops.optim."""
__all__ = []
