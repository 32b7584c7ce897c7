"""Small torch models for the application lessons, all time-first and stateful.

Every model maps inputs x (T, B, D) and an optional recurrent state to outputs
ys (T, B, O) and the state after the last step: ``ys, state = model(x, state)``.
That is the interface ``bpttlab.torch.train.train`` drives, chunk by chunk for
truncated BPTT. Frames travel flattened: D = S * S for S x S pixels.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bpttlab import cells
from bpttlab._checks import check_finite, check_float_array, check_int, check_number, check_positive_int
from bpttlab.tree import detach


def _check_sizes(**sizes: Any) -> None:
    """Each named size must be a positive int (not a bool)."""
    for name, v in sizes.items():
        check_positive_int(name, v)


@contextlib.contextmanager
def seeded(generator: Any) -> Iterator[None]:
    """Run the block (a model's construction) on the random stream of ``generator``, not torch's global one.

    generator: a torch.Generator (its state advances as the block draws), an int seed, or None (torch's
    global generator, as torch.nn does). The global generator is left exactly as it was.
    """
    if generator is None:
        yield
        return
    if isinstance(generator, torch.Generator):
        g = generator
    elif isinstance(generator, (int, np.integer)) and not isinstance(generator, (bool, np.bool_)):
        g = torch.Generator().manual_seed(check_int("generator", generator, 0))
    else:
        raise TypeError(f"generator: expected a torch.Generator, an int seed or None, got {type(generator).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.set_state(g.get_state())
        yield
        g.set_state(torch.default_generator.get_state())


def _recurrent(cell: str, D: int, H: int, layers: int = 1) -> nn.Module:
    spec = cells.get(cell)
    _check_sizes(D=D, H=H, layers=layers)
    made = spec.nn()
    if made is None:
        raise ValueError(f"cell: {cell!r} with its default option has no torch.nn module")
    cls, kwargs = made
    return cls(D, H, num_layers=layers, **kwargs)


def _check_x(x: Any, D: int) -> torch.Tensor:
    check_float_array("x", x, ("T", "B", "D"), "torch")
    if x.shape[-1] != D:
        raise ValueError(f"x: expected a tensor (T, B, D) with D = {D}, got shape {tuple(x.shape)}")
    check_finite("x", x, time_axis=0)
    return x


class SequenceRegressor(nn.Module):
    """A recurrent layer (torch.nn RNN, LSTM or GRU) and a per-step linear readout: (T, B, D) -> (T, B, O)."""

    def __init__(self, D: int, H: int, O: int, cell: str = "lstm", *, generator: Any = None) -> None:
        super().__init__()
        _check_sizes(O=O)
        self.D = D
        with seeded(generator):
            self.core = _recurrent(cell, D, H)
            self.readout = nn.Linear(H, O)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        hs, state = self.core(_check_x(x, self.D), state)
        return self.readout(hs), state


class FrameEncoder(nn.Module):
    """A small CNN: one S x S frame -> a feature vector of size F (two stride-2 convolutions)."""

    def __init__(self, size: int, features: int, channels: int = 8) -> None:
        super().__init__()
        if size % 4 != 0:
            raise ValueError(f"size: expected a multiple of 4 (two stride-2 convolutions), got {size}")
        self.size = size
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * channels * (size // 4) ** 2, features), nn.ReLU(),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, S*S) -> features (N, F)."""
        return self.net(frames.reshape(-1, 1, self.size, self.size))


class FrameDecoder(nn.Module):
    """Features (N, F) -> frame logits (N, S*S), through two transposed convolutions."""

    def __init__(self, size: int, features: int, channels: int = 8) -> None:
        super().__init__()
        self.size, self.channels = size, channels
        self.fc = nn.Linear(features, 2 * channels * (size // 4) ** 2)
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        q = self.size // 4
        z = self.fc(features).reshape(-1, 2 * self.channels, q, q)
        return self.net(z).reshape(-1, self.size * self.size)


class NextFramePredictor(nn.Module):
    """Encoder CNN per frame -> recurrent core over time -> decoder: frame t predicts frame t + 1.

    x (T, B, S*S) frames in [0, 1] -> ys (T, B, S*S), the predicted next frames (a sigmoid keeps them in [0, 1]).
    The output bias starts at logit(base_rate), so the untrained model predicts a nearly empty frame
    of brightness about base_rate instead of a grey 0.5 everywhere.
    """

    def __init__(
        self, size: int = 16, features: int = 64, H: int = 64, cell: str = "gru", base_rate: float = 0.05,
        *, generator: Any = None,
    ) -> None:
        super().__init__()
        base_rate = check_number("base_rate", base_rate, low=0.0, high=1.0, open_low=True, open_high=True)
        self.size = size
        with seeded(generator):
            self.encoder = FrameEncoder(size, features)
            self.core = _recurrent(cell, features, H)
            self.decoder = FrameDecoder(size, H)
        with torch.no_grad():
            self.decoder.net[-1].bias.fill_(math.log(base_rate / (1 - base_rate)))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        T, B, _ = _check_x(x, self.size * self.size).shape
        feats = self.encoder(x.reshape(T * B, -1)).reshape(T, B, -1)
        hs, state = self.core(feats, state)
        frames = torch.sigmoid(self.decoder(hs.reshape(T * B, -1)))
        return frames.reshape(T, B, -1), state


def _encode_frames(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """x (T, B, S*S) -> features (T, B, F) of every frame on its own, normalised if ``model.normalize``."""
    T, B, D = x.shape
    frames = x.reshape(T * B, D)
    if model.normalize:
        frames = F.layer_norm(frames, (D,))  # each frame: zero mean, unit variance over its pixels
    return model.norm(model.encoder(frames)).reshape(T, B, -1)


def _running_mean(values: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
    """values (T, B, K) -> the mean of steps 1..t at every t, continuing ``state`` = (sum (B, K), count ())."""
    T = values.shape[0]
    total, count = (values.new_zeros(values.shape[1:]), values.new_zeros(())) if state is None else state
    sums = torch.cat([total[None], values]).cumsum(dim=0)[1:]
    counts = count + torch.arange(1, T + 1, dtype=values.dtype).reshape(T, 1, 1)
    return sums / counts, (sums[-1], counts[-1, 0, 0])


class PerFrameClassifier(nn.Module):
    """The CNN alone: each frame classified on its own; the output at step t averages frames 1..t.

    Its state is (sum of the logits so far (B, C), number of frames so far ()), so a run in chunks
    (truncated BPTT) continues the same average; a sum ignores order, so it cannot see the order of
    the frames. x (T, B, S*S) -> logits (T, B, C).
    normalize: standardise each frame over its pixels before the CNN and apply a layer norm to its
    features (per frame, so nothing mixes frames or clips); without it the untrained CNN's features
    barely depend on where the blob is.
    """

    def __init__(
        self, size: int = 16, n_classes: int = 4, features: int = 32, normalize: bool = True, *, generator: Any = None
    ) -> None:
        super().__init__()
        _check_sizes(n_classes=n_classes, features=features)
        self.size, self.normalize = size, bool(normalize)
        with seeded(generator):
            self.encoder = FrameEncoder(size, features)
            self.norm = nn.LayerNorm(features) if self.normalize else nn.Identity()
            self.head = nn.Linear(features, n_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features: x (T, B, S*S) -> (T, B, F)."""
        return _encode_frames(self, _check_x(x, self.size * self.size))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        return _running_mean(self.head(self.encode(x)), state)


class PooledFrameClassifier(nn.Module):
    """The CNN per frame, the features averaged over frames 1..t, then a small MLP: order-free.

    The logits at step t are head(mean of the features f_1..f_t), with head a Linear-ReLU-Linear
    network of width ``hidden``: a function of the set of frames seen so far, blind to their order
    (the form of deep sets), but, unlike PerFrameClassifier's linear head, able to respond to how the
    features vary within a clip. Its state is (sum of the features so far (B, F), number of frames ()),
    so a run in chunks continues the same average. normalize as in PerFrameClassifier.
    x (T, B, S*S) -> logits (T, B, C).
    """

    def __init__(
        self, size: int = 16, n_classes: int = 4, features: int = 32, hidden: int = 64, normalize: bool = True,
        *, generator: Any = None,
    ) -> None:
        super().__init__()
        _check_sizes(n_classes=n_classes, features=features, hidden=hidden)
        self.size, self.normalize = size, bool(normalize)
        with seeded(generator):
            self.encoder = FrameEncoder(size, features)
            self.norm = nn.LayerNorm(features) if self.normalize else nn.Identity()
            self.head = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features: x (T, B, S*S) -> (T, B, F)."""
        return _encode_frames(self, _check_x(x, self.size * self.size))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        pooled, state = _running_mean(self.encode(x), state)
        return self.head(pooled), state


class CNNRNNClassifier(nn.Module):
    """The same CNN per frame, then a recurrent core that reads the features in order. (T, B, S*S) -> (T, B, C).

    The logits at step t are a linear readout of the hidden state h_t; normalize as in PerFrameClassifier.
    """

    def __init__(
        self, size: int = 16, n_classes: int = 4, features: int = 32, H: int = 32, cell: str = "gru",
        normalize: bool = True, *, generator: Any = None,
    ) -> None:
        super().__init__()
        _check_sizes(n_classes=n_classes)
        self.size, self.normalize = size, bool(normalize)
        with seeded(generator):
            self.encoder = FrameEncoder(size, features)
            self.norm = nn.LayerNorm(features) if self.normalize else nn.Identity()
            self.core = _recurrent(cell, features, H)
            self.head = nn.Linear(H, n_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features: x (T, B, S*S) -> (T, B, F)."""
        return _encode_frames(self, _check_x(x, self.size * self.size))

    def states(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """Hidden states hs (T, B, H) of the core (h_t for an LSTM) and the state after the last step."""
        return self.core(self.encode(x), state)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        hs, state = self.states(x, state)
        return self.head(hs), state


class CharLM(nn.Module):
    """Character language model: one-hot characters (T, B, V) -> next-character logits (T, B, V)."""

    def __init__(self, V: int, H: int = 128, cell: str = "lstm", layers: int = 1, *, generator: Any = None) -> None:
        super().__init__()
        self.V = V
        with seeded(generator):
            self.core = _recurrent(cell, V, H, layers)
            self.readout = nn.Linear(H, V)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        hs, state = self.core(_check_x(x, self.V), state)
        return self.readout(hs), state


def rollout(model: nn.Module, context: torch.Tensor, steps: int, state: Any = None) -> torch.Tensor:
    """Closed loop: read ``context``, then feed each prediction back in as the next input.

    context (T0, B, D) -> predictions (steps, B, D) of the ``steps`` inputs that follow the context.
    The first row is the model's ordinary (teacher-forced) output at the last context step; every later
    row sees only the model's own outputs. Needs a model whose outputs live in its input space (O = D).
    Gradients follow the caller's mode: wrap the call in ``torch.no_grad()`` to evaluate.
    """
    if not isinstance(context, torch.Tensor) or context.dim() != 3 or context.shape[0] < 1:
        raise ValueError(f"context: expected a tensor (T0, B, D) with T0 >= 1, got {getattr(context, 'shape', None)}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps: expected a positive int, got {steps!r}")
    ys, state = model(context, state)
    if ys.shape[1:] != context.shape[1:]:
        raise ValueError(
            f"model: expected outputs shaped like its inputs (B, D) = {tuple(context.shape[1:])} to feed back, "
            f"got {tuple(ys.shape[1:])}"
        )
    outputs = [ys[-1:]]
    for _ in range(steps - 1):
        y, state = model(outputs[-1], state)
        outputs.append(y)
    return torch.cat(outputs)


def detach_state(state: Any) -> Any:
    """The same state cut from its history (tensors detached; tuples and None kept): ``bpttlab.tree.detach``."""
    return detach(state)
