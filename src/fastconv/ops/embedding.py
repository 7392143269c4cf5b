"""Embedding lookup and its scatter-add backward."""
__all__ = []
