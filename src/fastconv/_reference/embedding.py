"""NumPy twins of fastconv.ops.embedding."""
__all__ = []
