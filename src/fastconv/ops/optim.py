"""In-place optimizer updates (SGD, RMSprop, Adam) over large weights."""
__all__ = []
