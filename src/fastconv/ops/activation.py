"""Fused bias + activation and the activation backward."""
__all__ = []
