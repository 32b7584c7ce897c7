"""bpttlab.torch.pretrain: writing weights and reading them back, the corpus check and the command line.

Training, the held-out split, the shipped weights and most configuration checks are tested in
test_textgen.py; the argument checks of every function in test_bad_input.py.
"""

from __future__ import annotations

import functools
import re

import pytest
import torch

from bpttlab.text import CharVocab, load_text
from bpttlab.torch import pretrain
from bpttlab.torch.models import CharLM

VOCAB = CharVocab("abc de.")


def _config(**changes):
    return dict(pretrain.CONFIG, **changes)


def test_check_config_rejects_an_unknown_corpus():
    with pytest.raises(ValueError, match=r"^config\['corpus'\]: expected one of \['genesis_kjv'\], got 'bible'$"):
        pretrain.check_config(_config(corpus="bible"))
    config = _config(H=6)
    assert pretrain.check_config(config) is config


@pytest.mark.parametrize("as_str", [False, True], ids=["Path", "str"])
@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("gru", 2)])
def test_save_writes_float32_weights_that_load_pretrained_reads_back(tmp_path, cell, layers, as_str):
    """The file holds float32 copies of every weight, the alphabet as one str and the config; it loads with
    weights_only=True, and the model read back (in either dtype) computes what the float32 model computes."""
    config = _config(H=6, cell=cell, layers=layers)
    model = CharLM(len(VOCAB), 6, cell, layers, generator=3).to(torch.float64)
    path = tmp_path / "w.pt"
    pretrain.save(model, VOCAB, config, str(path) if as_str else path)
    saved = torch.load(path, weights_only=True)
    assert set(saved) == {"state_dict", "chars", "config"}
    assert saved["chars"] == "".join(VOCAB.chars) == " .abcde"
    assert saved["config"] == config
    original = model.state_dict()
    assert list(saved["state_dict"]) == list(original)
    for name, t in saved["state_dict"].items():
        assert t.dtype == torch.float32, name
        assert torch.equal(t, original[name].to(torch.float32)), name

    x = torch.nn.functional.one_hot(torch.tensor([[0, 3], [5, 1], [2, 2]]), len(VOCAB)).to(torch.float64)
    reference = model.to(torch.float32)(x.to(torch.float32))[0]
    for dtype in (torch.float32, torch.float64):
        loaded, vocab, loaded_config = pretrain.load_pretrained(path if as_str else str(path), dtype=dtype)
        assert vocab.chars == VOCAB.chars and loaded_config == config
        assert not loaded.training and all(p.dtype == dtype for p in loaded.parameters())
        with torch.no_grad():
            logits = loaded(x.to(dtype))[0]
        assert torch.allclose(logits.to(torch.float32), reference, rtol=1e-5, atol=1e-6)


def test_save_keeps_the_model_it_writes_unchanged(tmp_path):
    model = CharLM(len(VOCAB), 5, "rnn", generator=0).to(torch.float64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pretrain.save(model, VOCAB, _config(H=5, cell="rnn"), tmp_path / "w.pt")
    after = model.state_dict()
    assert all(after[k].dtype == torch.float64 and torch.equal(after[k], v) for k, v in before.items())


def test_load_pretrained_says_how_to_make_missing_weights(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"^path: no weights at none\.pt; create them with python -m bpttlab\.torch\.pretrain$"
    ):
        pretrain.load_pretrained(tmp_path / "none.pt")


def test_main_with_any_argument_prints_the_usage_and_returns_2(capsys):
    assert pretrain.main(["--help"]) == 2
    out = capsys.readouterr().out
    assert out == pretrain.__doc__ + "\n"
    assert "python -m bpttlab.torch.pretrain" in out


def test_main_rejects_an_argv_that_is_not_a_list():
    with pytest.raises(TypeError, match=r"^argv: expected a list of str \(sys\.argv\[1:\]\), got str$"):
        pretrain.main("--help")


def test_main_trains_on_config_writes_the_weights_and_reports_their_size(tmp_path, monkeypatch, capsys):
    """main() trains with CONFIG (made tiny here), saves to WEIGHTS (a temporary file here) and prints its size.

    ``save``'s default path is bound when the module is defined, so the test hands main a save that writes
    to the temporary WEIGHTS: the shipped file is never touched.
    """
    tiny = _config(H=4, B=512, T=100, lrs=[1e-2])
    weights = tmp_path / "tiny.pt"
    shipped = pretrain.WEIGHTS.stat()
    shipped = (shipped.st_size, shipped.st_mtime_ns)
    monkeypatch.setattr(pretrain, "CONFIG", tiny)
    monkeypatch.setattr(pretrain, "WEIGHTS", weights)
    monkeypatch.setattr(pretrain, "save", functools.partial(pretrain.save, path=weights))
    threads = torch.get_num_threads()
    try:
        assert pretrain.main([]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)

    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 2 and lines[0].startswith("epoch  1 lr 1e-02: training ")  # one epoch, then the summary
    mib = weights.stat().st_size / 2**20
    assert re.fullmatch(rf"wrote tiny\.pt: {mib:.2f} MiB in \d+ s", lines[1]), lines[1]
    model, vocab, config = pretrain.load_pretrained(weights)
    assert config == tiny and vocab.chars == CharVocab(load_text("genesis_kjv")).chars
    assert model.V == len(vocab) and model.readout.in_features == 4
    now = (pretrain.DATA / "charlm_genesis.pt").stat()
    assert (now.st_size, now.st_mtime_ns) == shipped
