"""atheris target: the Embedding -> Conv1D step of a Sequential model. See _harness.py."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness  # noqa: E402

if __name__ == "__main__":
    _harness.main("embedding_conv")
