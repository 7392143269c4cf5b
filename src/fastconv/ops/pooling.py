"""Max, average and global pooling: argument checks, then the compiled kernels."""
__all__ = []
