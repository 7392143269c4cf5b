"""NumPy twins of fastconv.ops.activation."""
__all__ = []
