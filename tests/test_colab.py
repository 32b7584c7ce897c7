"""The Colab install line works, apart from the network.

The introduction prints `%pip install "bpttlab @ git+<repository>"` (the `colab-install`
directive of book/_ext/bookext.py, from `repository.url` in _config.yml). Here a wheel is
built from this checkout, the same line is run in a fresh virtual environment with the
git URL replaced by that wheel, and the installed package is used: its backends, its data
files and the numbers of one small BPTT check. pip's git step is what this leaves out.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import venv

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from bookext import install_line  # noqa: E402

CHECK = """
import pathlib, numpy as np, bpttlab
from bpttlab import init, text
from bpttlab.numpy import rnn
assert "site-packages" in bpttlab.__file__, bpttlab.__file__
assert len(text.load_text()) > 10000, "the wheel lacks the corpus in bpttlab/data"
rng = np.random.default_rng(0)
p = init.init_rnn(2, 3, rng)
x, h0 = rng.standard_normal((4, 2, 2)), np.zeros((2, 3))
hs, cache = rnn.forward(x, h0, p)
dx, dh0, g = rnn.backward(np.ones_like(hs), cache)
print("ok", hs.shape, dx.shape)
"""


def test_the_intro_line_names_the_configured_repository():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    line = install_line(url)
    assert line == f'%pip install "bpttlab @ git+{url}"'
    intro = ROOT / "_build" / "html" / "book" / "intro.html"
    if intro.exists():  # the built page shows exactly that line
        assert url in intro.read_text(encoding="utf-8")
    assert "{colab-install}" in (ROOT / "book" / "intro.md").read_text()


def test_the_colab_line_installs_bpttlab_from_a_wheel(tmp_path):
    wheels = tmp_path / "wheels"
    # build from a copy of the package's sources, so setuptools' build/ stays out of the checkout
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "bpttlab", src / "bpttlab", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("bpttlab-*.whl")
    env_dir = tmp_path / "colab"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    line = install_line(url).replace(f"git+{url}", wheel.as_uri())
    requirement = line.split(" ", 2)[2].strip('"')  # what `%pip install` passes to pip
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", requirement], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr[-3000:]
    run = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok (4, 2, 3) (4, 2, 2)"), run.stdout
