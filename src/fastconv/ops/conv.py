"""conv1d and conv1d_backward: argument checks, then the compiled kernels."""
__all__ = []
