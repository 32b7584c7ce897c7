"""Pretrain the character LSTM of the predictive-text lesson and ship its weights.

    python -m bpttlab.torch.pretrain          # writes bpttlab/data/charlm_genesis.pt

The lesson trains a small model for a few seconds; its quality demos (samples and
word suggestions) use these weights, trained for longer by the same method: truncated
BPTT over consecutive streams with the state carried (``bpttlab.torch.train``), on
every chapter of Genesis except the last ``held_out_chapters``, which stay unseen.
The run is seeded and uses one thread and deterministic algorithms, so it repeats
on one machine; PyTorch promises no bit-for-bit equality across CPUs or releases.
The file holds float32 weights, the alphabet and the configuration, nothing that
needs pickle: load it with ``load_pretrained`` (``torch.load(..., weights_only=True)``).
"""

from __future__ import annotations

import pathlib
import sys
import time
from typing import Any

import numpy as np
import torch

from bpttlab import cells
from bpttlab._checks import (
    check_callable,
    check_int,
    check_int_array,
    check_number,
    check_positive_int,
    check_type,
)
from bpttlab.text import CORPORA, DATA, CharVocab, load_text, stream_batches
from bpttlab.torch.models import CharLM
from bpttlab.torch.train import evaluate, train

WEIGHTS = DATA / "charlm_genesis.pt"

#: Everything that determines the shipped weights. One learning rate per epoch.
CONFIG: dict[str, Any] = {
    "corpus": "genesis_kjv",
    "held_out_chapters": 5,
    "H": 256,
    "cell": "lstm",
    "layers": 1,
    "B": 32,
    "T": 100,
    "lrs": [1e-2] * 6 + [2e-3] * 3,
    "max_norm": 1.0,
    "seed": 0,
}


def split_chapters(text: str, held_out_chapters: int) -> tuple[str, str]:
    """(training text, held-out text): the last ``held_out_chapters`` chapters (blank-line separated) held out."""
    check_type("text", text, str)
    held_out_chapters = check_int("held_out_chapters", held_out_chapters)
    chapters = text.split("\n\n")
    if not 1 <= held_out_chapters < len(chapters):
        raise ValueError(
            f"held_out_chapters: expected 1 to {len(chapters) - 1} (the text has {len(chapters)}), got {held_out_chapters}"
        )
    cut = len("\n\n".join(chapters[:-held_out_chapters])) + 2
    return text[:cut], text[cut:]


def heldout_batch(ids: np.ndarray, vocab_size: int, streams: int = 16) -> Any:
    """All of ``ids`` as one batch of ``streams`` consecutive pieces (x one-hot (T, B, V), y next ids), for ``evaluate``."""
    streams = check_positive_int("streams", streams)
    check_positive_int("vocab_size", vocab_size)
    check_int_array("ids", ids, ("N",), 0, vocab_size - 1)
    if len(ids) < 2 * streams + 1:
        raise ValueError(
            f"ids: expected at least 2 * streams + 1 = {2 * streams + 1} ids (2 steps per stream), got {len(ids)}"
        )
    return next(stream_batches(ids, (len(ids) - 1) // streams, streams, vocab_size))


def train_charlm(config: dict[str, Any] = CONFIG, log: Any = print) -> tuple[CharLM, CharVocab]:
    """Train a CharLM as ``config`` says (one call of ``train`` per epoch over the training streams).

    config: a dict with the keys of CONFIG; log: a function taking one str. The model's initial weights
    come from its own generator seeded by config["seed"]: torch's global random state is not touched.
    """
    check_config(config)
    check_callable("log", log, "a function taking one str (for example print)")
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train_charlm(config, log)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _train_charlm(config: dict[str, Any], log: Any) -> tuple[CharLM, CharVocab]:
    text = load_text(config["corpus"])
    vocab = CharVocab(text)
    V = len(vocab)
    train_text, held_text = split_chapters(text, config["held_out_chapters"])
    train_ids, held = vocab.encode(train_text), heldout_batch(vocab.encode(held_text), V)
    # the model's initial weights come from its own generator, seeded by the configuration
    model = CharLM(V, config["H"], config["cell"], config["layers"], generator=config["seed"])
    rng = np.random.default_rng(config["seed"])
    B, T = config["B"], config["T"]
    chunks = (len(train_ids) - 1) // B // T
    start = time.perf_counter()
    for epoch, lr in enumerate(config["lrs"], start=1):
        stream = stream_batches(train_ids, T, B, V)
        history = train(
            model, lambda _: next(stream), chunks, rng, lr=lr, max_norm=config["max_norm"], carry_state=True
        )
        loss, acc = evaluate(model, held)
        log(
            f"epoch {epoch:>2} lr {lr:.0e}: training {history.loss.mean():.3f}, held-out {loss:.3f} nats/char "
            f"(accuracy {acc:.3f}), {time.perf_counter() - start:.0f} s"
        )
    return model, vocab


def check_config(config: Any) -> dict[str, Any]:
    """A training configuration: a dict with exactly the keys of CONFIG, each of the right kind."""
    check_type("config", config, dict, "a dict like pretrain.CONFIG")
    missing, extra = sorted(set(CONFIG) - set(config)), sorted(set(config) - set(CONFIG))
    if missing or extra:
        raise ValueError(f"config: expected the keys of pretrain.CONFIG; missing {missing}, unknown {extra}")
    if config["corpus"] not in CORPORA:
        raise ValueError(f"config['corpus']: expected one of {sorted(CORPORA)}, got {config['corpus']!r}")
    for key in ("H", "layers", "B", "T"):
        check_positive_int(f"config[{key!r}]", config[key])
    check_int("config['held_out_chapters']", config["held_out_chapters"], 1)
    check_int("config['seed']", config["seed"], 0)
    cells.get(config["cell"])
    check_number("config['max_norm']", config["max_norm"], positive=True)
    check_type("config['lrs']", config["lrs"], (list, tuple), "a list of learning rates, one per epoch")
    if not config["lrs"]:
        raise ValueError("config['lrs']: expected at least one epoch's learning rate, got an empty list")
    for k, lr in enumerate(config["lrs"]):
        check_number(f"config['lrs'][{k}]", lr, positive=True)
    return config


def save(model: CharLM, vocab: CharVocab, config: dict[str, Any], path: pathlib.Path = WEIGHTS) -> None:
    """Write float32 weights, the alphabet and the configuration (plain tensors, str, numbers)."""
    check_type("model", model, CharLM, "a bpttlab.torch.models.CharLM")
    check_type("vocab", vocab, CharVocab, "a bpttlab.text.CharVocab")
    check_config(config)
    check_type("path", path, (pathlib.Path, str), "a pathlib.Path or str")
    if len(vocab) != model.V:
        raise ValueError(f"vocab: the model reads V = {model.V} characters, the vocabulary has {len(vocab)}")
    state = {name: t.detach().to(torch.float32).clone() for name, t in model.state_dict().items()}
    torch.save({"state_dict": state, "chars": "".join(vocab.chars), "config": config}, path)


def load_pretrained(
    path: pathlib.Path | str = WEIGHTS, dtype: torch.dtype = torch.float32
) -> tuple[CharLM, CharVocab, dict[str, Any]]:
    """(model in eval mode with parameters in ``dtype``, its vocabulary, the config it was trained with)."""
    check_type("path", path, (pathlib.Path, str), "a pathlib.Path or str")
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no weights at {path.name}; create them with python -m bpttlab.torch.pretrain")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
    saved = torch.load(path, weights_only=True)
    config, vocab = saved["config"], CharVocab(saved["chars"])
    model = CharLM(len(vocab), config["H"], config["cell"], config["layers"]).to(dtype)
    model.load_state_dict(saved["state_dict"])
    return model.eval(), vocab, config


def main(argv: list[str]) -> int:
    check_type("argv", argv, (list, tuple), "a list of str (sys.argv[1:])")
    if argv:
        print(__doc__)
        return 2
    torch.set_num_threads(1)
    start = time.perf_counter()
    model, vocab = train_charlm(CONFIG)
    save(model, vocab, CONFIG)
    print(f"wrote {WEIGHTS.name}: {WEIGHTS.stat().st_size / 2**20:.2f} MiB in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
