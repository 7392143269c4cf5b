"""NumPy twins of fastconv.ops.pooling."""
__all__ = []
