"""The `fastconv` command (also `python -m fastconv`).

    fastconv demo imdb [--data PATH] [--epochs N] [--batch-size N] [--threads N] [--seed N]
    fastconv demo stock [--epochs N] [--batch-size N] [--threads N] [--seed N]
    fastconv info
    fastconv bench [--quick] [--threads N] [--no-torch]

Bad arguments print one line, `fastconv: error: ...`, and exit with status 2.
"""
import argparse
import sys

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, received {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative int, received {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative int, received {text!r}")
    return value


def _common(p, epochs, batch_size=32):
    p.add_argument("--epochs", type=_positive_int, default=epochs, metavar="N",
                   help=f"training epochs (default {epochs})")
    p.add_argument("--batch-size", type=_positive_int, default=batch_size, metavar="N",
                   help=f"samples per gradient step (default {batch_size})")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="OpenMP threads for the kernels (default: FASTCONV_NUM_THREADS, "
                        "OMP_NUM_THREADS, else every core)")
    p.add_argument("--seed", type=_seed, default=None, metavar="N",
                   help="seed Python's and NumPy's RNGs first, for a repeatable run")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                   help="Keras progress style: 0 silent, 1 progress bar, 2 one line per epoch")


def build_parser():
    parser = _Parser(prog="fastconv",
                     description="fastconv: fast 1-D convolutional networks on CPUs, "
                                 "with a Keras-compatible API.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser("demo", help="train one of the example models",
                          description="Train one of the two example Keras models with fastconv.")
    demos = demo.add_subparsers(dest="demo", metavar="NAME", parser_class=_Parser)
    p = demos.add_parser(
        "imdb", help="IMDb review sentiment with Embedding + Conv1D (real data)",
        description="Train the IMDb Conv1D model (Embedding 20000x128, Conv1D 32x7, "
                    "MaxPooling1D 5, Conv1D 32x7, GlobalMaxPooling1D, Dense 1) on 25,000 reviews, "
                    "then print the test accuracy and the time per epoch.")
    p.add_argument("--data", metavar="PATH", default=None,
                   help="aclImdb_v1.tar.gz, a repack of it, an extracted aclImdb/ folder, Keras' "
                        "imdb.npz, or a folder holding one (default: FASTCONV_DATA, then "
                        "~/.fastconv/datasets, then download)")
    _common(p, epochs=2)
    p = demos.add_parser(
        "stock", help="price-movement Conv1D on synthetic series",
        description="Train the small Conv1D stock-movement model on 1,000 synthetic series "
                    "and print its accuracy on 1,000 new ones.")
    _common(p, epochs=10)

    sub.add_parser("info", help="show the version, build and threading facts",
                   description="Print fastconv's version, compiler, OpenMP and thread settings.")

    p = sub.add_parser("bench", help="time the Conv1D kernels (against PyTorch when installed)",
                       description="Time one Conv1D training step (forward + backward) per shape "
                                   "with fastconv and, when installed, PyTorch.")
    p.add_argument("--quick", action="store_true", help="only the example models' shapes")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="threads for both libraries (default: fastconv's current setting)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    return parser, demo


def main(argv=None):
    parser, demo_parser = build_parser()
    args = parser.parse_args(argv)
    import fastconv

    if args.version:
        print(f"fastconv {fastconv.__version__}")
        return 0
    if args.command is None:
        parser.error("a command is required: demo, info or bench")
    if args.command == "info":
        fastconv.show_config()
        return 0
    if args.command == "bench":
        from ._bench import conv_table

        conv_table(quick=args.quick, threads=args.threads, use_torch=not args.no_torch)
        return 0
    if args.demo is None:
        demo_parser.error("a demo name is required: imdb or stock")
    if args.threads is not None:
        fastconv.set_num_threads(args.threads)
    from . import _demos

    try:
        if args.demo == "imdb":
            _demos.imdb(data=args.data, epochs=args.epochs, batch_size=args.batch_size,
                        seed=args.seed, verbose=1 if args.verbose is None else args.verbose)
        else:
            _demos.stock(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                         verbose=2 if args.verbose is None else args.verbose)
    except _demos.DataError as err:  # missing / damaged data: the message says what to do
        print(f"fastconv: error: {err}", file=sys.stderr)
        return 1
    return 0
