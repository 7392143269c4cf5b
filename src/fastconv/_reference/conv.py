"""Float64-exact NumPy twins of fastconv.ops.conv."""
__all__ = []
