"""The `fastconv` command: help, argument errors (one line, exit 2), info, bench and both demos.

The real entry points run in subprocesses (`python -m fastconv` and the installed console
script); table-driven argument errors call `main()` in-process. Demos run on tiny data.
"""
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest

import fastconv
from fastconv._cli import main


def _run(*args, env=None, timeout=120):
    """Run `python -m fastconv ARGS`; `env` entries set to None are removed."""
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run([sys.executable, "-m", "fastconv", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


@pytest.mark.parametrize("args", [[], ["demo"], ["demo", "imdb"], ["demo", "stock"], ["info"],
                                  ["bench"]], ids=lambda a: "-".join(a) or "top")
def test_help(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args + ["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fastconv" + "".join(" " + a for a in args))


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "imdb", "--help"])
    out = capsys.readouterr().out
    for opt in ("--data PATH", "--epochs N", "--batch-size N", "--threads N", "--seed N"):
        assert opt in out
    assert "(default 2)" in out


@pytest.mark.parametrize("args, message", [
    ([], r"a command is required"),
    (["bogus"], r"argument COMMAND: invalid choice: 'bogus'"),
    (["demo"], r"a demo name is required: imdb or stock"),
    (["demo", "mnist"], r"invalid choice: 'mnist'"),
    (["demo", "imdb", "--epochs", "0"], r"--epochs: expected a positive int, received '0'"),
    (["demo", "imdb", "--epochs", "two"], r"--epochs: expected a positive int, received 'two'"),
    (["demo", "imdb", "--batch-size", "-4"], r"argument --batch-size: expected a positive int"),
    (["demo", "stock", "--threads", "0"], r"argument --threads: expected a positive int"),
    (["demo", "stock", "--seed", "-1"], r"argument --seed: expected a non-negative int"),
    (["demo", "imdb", "--data"], r"argument --data: expected one argument"),
    (["demo", "imdb", "--verbose", "3"], r"argument --verbose: invalid choice: 3"),
    (["bench", "--quick=yes"], r"ignored explicit argument 'yes'"),
    (["info", "extra"], r"unrecognized arguments: extra"),
], ids=lambda v: v if isinstance(v, str) else "-".join(v) or "none")
def test_bad_arguments_one_line_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert re.match(r"^fastconv( demo( imdb| stock)?| bench| info)?: error: ", lines[0])
    assert re.search(message, lines[0]), lines[0]


def test_subprocess_bad_argument_exit_status():
    res = _run("demo", "imdb", "--epochs", "0")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "error: argument --epochs" in res.stderr


def test_info_and_version():
    res = _run("info")
    assert res.returncode == 0, res.stderr
    assert f"fastconv version : {fastconv.__version__}" in res.stdout
    assert re.search(r"^OpenMP +: (enabled|DISABLED)", res.stdout, re.M)
    assert re.search(r"^threads +: [1-9]\d*$", res.stdout, re.M)
    res = _run("--version")
    assert res.returncode == 0 and res.stdout == f"fastconv {fastconv.__version__}\n"


def test_console_script_matches_module():
    exe = shutil.which("fastconv")
    if exe is None:
        pytest.skip("the fastconv console script is not on PATH")
    res = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and f"fastconv version : {fastconv.__version__}" in res.stdout


def test_threads_option_reaches_the_kernels():
    code = ("import sys; from fastconv._cli import main; import fastconv._demos as d; "
            "d.stock = lambda **k: print('threads', __import__('fastconv').get_num_threads()); "
            "sys.exit(main(['demo', 'stock', '--threads', '1']))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "threads 1", res.stderr


def test_bench_quick_table():
    res = _run("bench", "--quick", "--no-torch", "--threads", "1")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "threads=1" in lines[0]
    rows = [ln for ln in lines if ln.startswith(("imdb-conv", "stock-conv"))]
    assert [r.split()[0] for r in rows] == ["imdb-conv1", "imdb-conv2", "stock-conv"]
    for r in rows:
        ms = float(r.split(")")[1].split()[0])
        assert 0 < ms < 10_000


def _tiny_archive(path, n_per_class=24, seed=0):
    """Reviews whose sentiment is carried by a few marker words."""
    rng = np.random.default_rng(seed)
    filler = [f"w{i}" for i in range(60)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for split in ("train", "test"):
            for label, marker in (("neg", "awful"), ("pos", "great")):
                for i in range(n_per_class):
                    words = list(rng.choice(filler, size=rng.integers(5, 30))) + [marker] * 3
                    rng.shuffle(words)
                    data = " ".join(words).encode()
                    rating = 1 if label == "neg" else 9
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_{rating}.txt")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
    with open(path, "wb") as f:
        f.write(gzip.compress(buf.getvalue()))
    return str(path)


def test_demo_imdb_on_tiny_data(tmp_path):
    data = _tiny_archive(tmp_path / "tiny.tar.gz")
    env = {"FASTCONV_HOME": str(tmp_path / "home"), "FASTCONV_OFFLINE": "1",
           "FASTCONV_DATA": None}
    res = _run("demo", "imdb", "--data", data, "--epochs", "2", "--batch-size", "16",
               "--verbose", "2", "--seed", "0", "--threads", "1", env=env)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "IMDb reviews: 48 train, 48 test, padded to 100 words" in out
    assert re.search(r"^Epoch 1/2\n3/3 - \d+s - \d+[mu]?s/step - acc: \d\.\d{4} - loss: \d\.\d{4}$",
                     out, re.M), out
    m = re.search(r"^Test accuracy: (\d\.\d{4}) \(loss (\d+\.\d{4})\)$", out, re.M)
    assert m and 0.0 <= float(m.group(1)) <= 1.0
    assert re.search(r"^Time per epoch: \d+\.\d s \(epochs: \d+\.\d, \d+\.\d s\)$", out, re.M)
    assert os.listdir(tmp_path / "home" / "datasets")  # the token cache was written


def test_demo_imdb_without_data_explains_where_to_put_it(tmp_path):
    env = {"FASTCONV_HOME": str(tmp_path / "home"), "FASTCONV_OFFLINE": "1", "FASTCONV_DATA": None}
    res = _run("demo", "imdb", env=env)
    assert res.returncode == 1 and res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastconv: error: IMDb data not found")
    assert str(tmp_path / "home" / "datasets") in lines[0] and "FASTCONV_DATA" in lines[0]


def test_demo_stock_one_epoch():
    res = _run("demo", "stock", "--epochs", "1", "--seed", "3", "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert re.search(r"^32/32 - \d+s - \d+[mu]?s/step - acc: \d\.\d{4} - loss: \d\.\d{4}$",
                     res.stdout, re.M), res.stdout
    assert "Epoch 1/1" not in res.stdout  # Keras prints epoch headers only when epochs > 1
    assert re.search(r"^Accuracy on 1,000 new series: \d\.\d{4}$", res.stdout, re.M)
