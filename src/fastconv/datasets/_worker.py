"""`python -m fastconv.datasets._worker KIND PATH SPLIT OUT`: tokenise one IMDb split to OUT.npz.

Started by `fastconv.datasets.imdb` so the two splits are tokenised on two cores.
"""
import sys

import numpy as np


def main(argv):
    kind, path, split, out = argv
    from .imdb import _tokenize_split

    labels, ids, doc_of_token, words = _tokenize_split(kind, path, split)
    with open(out, "wb") as f:
        np.savez(f, labels=labels, ids=ids, doc_of_token=doc_of_token,
                 words=np.frombuffer(b"\n".join(words), dtype=np.uint8))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
