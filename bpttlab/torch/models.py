"""Small torch models for the application lessons, all time-first and stateful.

Every model maps inputs x (T, B, D) and an optional recurrent state to outputs
ys (T, B, O) and the state after the last step: ``ys, state = model(x, state)``.
That is the interface ``bpttlab.torch.train.train`` drives, chunk by chunk for
truncated BPTT. Frames travel flattened: D = S * S for S x S pixels.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bpttlab import cells
from bpttlab._checks import (
    check_axis,
    check_bool,
    check_finite,
    check_float_array,
    check_int,
    check_number,
    check_positive_int,
    check_shape,
    check_type,
)
from bpttlab.tree import detach


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


def _recurrent(cell: str, D: int, H: int, layers: int = 1) -> nn.RNNBase:
    spec = cells.get(cell)
    D, H, layers = check_positive_int("D", D), check_positive_int("H", H), check_positive_int("layers", layers)
    made = spec.nn()
    if made is None:
        raise ValueError(f"cell: {cell!r} with its default option has no torch.nn module")
    cls, kwargs = made
    return cls(D, H, num_layers=layers, **kwargs)


def _inputs(model: nn.Module, x: Any, D: int) -> torch.Tensor:
    """x: a finite float tensor (T, B, D) in the dtype of the model's parameters."""
    check_float_array("x", x, ("T", "B", "D"), "torch")
    check_axis("x", x, 2, D, ("T", "B", "D"), "the model")
    dtype = next(model.parameters()).dtype
    if x.dtype != dtype:
        raise TypeError(f"x: expected dtype {dtype} (the dtype of the model's parameters), got {x.dtype}")
    check_finite("x", x, time_axis=0)
    return x


def _recurrent_state(core: nn.RNNBase, name: str, state: Any, x: torch.Tensor) -> Any:
    """None, or the state of a torch.nn RNN/GRU (h (layers, B, H)) or LSTM ((h, c), each (layers, B, H)), in x's dtype."""
    if state is None:
        return None
    shape = (core.num_layers, x.shape[1], core.hidden_size)
    dims = ("layers", "B", "H")
    if isinstance(core, nn.LSTM):
        check_type(name, state, tuple, "a pair (h, c) of tensors (layers, B, H)")
        if len(state) != 2:
            raise ValueError(f"{name}: expected a pair (h, c) of tensors (layers, B, H), got {len(state)} items")
        parts = [(f"{name}[0] (h)", state[0]), (f"{name}[1] (c)", state[1])]
    else:
        parts = [(name, state)]
    for part, value in parts:
        check_float_array(part, value, dims, "torch")
        check_shape(part, value, shape, dims)
        if value.dtype != x.dtype:
            raise TypeError(f"{part}: expected dtype {x.dtype} (the dtype of x), got {value.dtype}")
        check_finite(part, value)
    return state


def _running_state(name: str, state: Any, B: int, K: int, dtype: torch.dtype) -> Any:
    """None, or the state (sum (B, K), count ()) of a running mean over frames."""
    if state is None:
        return None
    check_type(name, state, tuple, "a pair (sum (B, K), count ()) from a previous call")
    if len(state) != 2:
        raise ValueError(f"{name}: expected a pair (sum (B, K), count ()), got {len(state)} items")
    total, count = state
    check_float_array(f"{name}[0] (sum)", total, ("B", "K"), "torch")
    check_shape(f"{name}[0] (sum)", total, (B, K), ("B", "K"))
    check_type(f"{name}[1] (count)", count, torch.Tensor, "a 0-axis tensor")
    if count.dim() != 0:
        raise ValueError(f"{name}[1] (count): expected a 0-axis tensor, got shape {tuple(count.shape)}")
    for part, value in ((f"{name}[0] (sum)", total), (f"{name}[1] (count)", count)):
        if value.dtype != dtype:
            raise TypeError(f"{part}: expected dtype {dtype} (the dtype of x), got {value.dtype}")
        check_finite(part, value)
    if not float(count) >= 0:
        raise ValueError(f"{name}[1] (count): expected a number of frames >= 0, got {float(count)}")
    return state


class SequenceRegressor(nn.Module):
    """A recurrent layer (torch.nn RNN, LSTM or GRU) and a per-step linear readout: (T, B, D) -> (T, B, O)."""

    def __init__(self, D: int, H: int, O: int, cell: str = "lstm", *, generator: Any = None) -> None:
        super().__init__()
        D, O = check_positive_int("D", D), check_positive_int("O", O)
        self.D = D
        with seeded(generator):
            self.core = _recurrent(cell, D, H)
            self.readout = nn.Linear(H, O)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        x = _inputs(self, x, self.D)
        hs, state = self.core(x, _recurrent_state(self.core, "state", state, x))
        return self.readout(hs), state


class FrameEncoder(nn.Module):
    """A small CNN: one S x S frame -> a feature vector of size F (two stride-2 convolutions)."""

    def __init__(self, size: int, features: int, channels: int = 8) -> None:
        super().__init__()
        size, features, channels = _frame_sizes(size, features, channels)
        self.size, self.features = size, features
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * channels * (size // 4) ** 2, features),
            nn.ReLU(),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, S*S) -> features (N, F)."""
        _flat("frames", frames, self.size * self.size, ("N", "S*S"), self)
        return self.net(frames.reshape(-1, 1, self.size, self.size))


class FrameDecoder(nn.Module):
    """Features (N, F) -> frame logits (N, S*S), through two transposed convolutions."""

    def __init__(self, size: int, features: int, channels: int = 8) -> None:
        super().__init__()
        size, features, channels = _frame_sizes(size, features, channels)
        self.size, self.channels, self.features = size, channels, features
        self.fc = nn.Linear(features, 2 * channels * (size // 4) ** 2)
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (N, F) -> frame logits (N, S*S)."""
        _flat("features", features, self.features, ("N", "F"), self)
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
        self,
        size: int = 16,
        features: int = 64,
        H: int = 64,
        cell: str = "gru",
        base_rate: float = 0.05,
        *,
        generator: Any = None,
    ) -> None:
        super().__init__()
        base_rate = check_number("base_rate", base_rate, low=0.0, high=1.0, open_low=True, open_high=True)
        size, features, _ = _frame_sizes(size, features)
        self.size = size
        with seeded(generator):
            self.encoder = FrameEncoder(size, features)
            self.core = _recurrent(cell, features, H)
            self.decoder = FrameDecoder(size, H)
        with torch.no_grad():
            # net[-1] is the last ConvTranspose2d, built with a bias; indexing a Sequential loses its type
            cast(torch.Tensor, self.decoder.net[-1].bias).fill_(math.log(base_rate / (1 - base_rate)))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        T, B, _ = _inputs(self, x, self.size * self.size).shape
        state = _recurrent_state(self.core, "state", state, x)
        feats = self.encoder(x.reshape(T * B, -1)).reshape(T, B, -1)
        hs, state = self.core(feats, state)
        frames = torch.sigmoid(self.decoder(hs.reshape(T * B, -1)))
        return frames.reshape(T, B, -1), state


def _encode_frames(
    model: PerFrameClassifier | PooledFrameClassifier | CNNRNNClassifier, x: torch.Tensor
) -> torch.Tensor:
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
        n_classes = check_positive_int("n_classes", n_classes)
        size, features, _ = _frame_sizes(size, features)
        self.size, self.normalize, self.n_classes = size, check_bool("normalize", normalize), n_classes
        with seeded(generator):
            self.encoder = FrameEncoder(size, features)
            self.norm = nn.LayerNorm(features) if self.normalize else nn.Identity()
            self.head = nn.Linear(features, n_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features: x (T, B, S*S) -> (T, B, F)."""
        return _encode_frames(self, _inputs(self, x, self.size * self.size))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        _inputs(self, x, self.size * self.size)
        _running_state("state", state, x.shape[1], self.n_classes, x.dtype)
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
        self,
        size: int = 16,
        n_classes: int = 4,
        features: int = 32,
        hidden: int = 64,
        normalize: bool = True,
        *,
        generator: Any = None,
    ) -> None:
        super().__init__()
        n_classes = check_positive_int("n_classes", n_classes)
        features, hidden = check_positive_int("features", features), check_positive_int("hidden", hidden)
        size, features, _ = _frame_sizes(size, features)
        self.size, self.normalize, self.features = size, check_bool("normalize", normalize), features
        with seeded(generator):
            self.encoder = FrameEncoder(size, features)
            self.norm = nn.LayerNorm(features) if self.normalize else nn.Identity()
            self.head = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features: x (T, B, S*S) -> (T, B, F)."""
        return _encode_frames(self, _inputs(self, x, self.size * self.size))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        _inputs(self, x, self.size * self.size)
        _running_state("state", state, x.shape[1], self.features, x.dtype)
        pooled, state = _running_mean(self.encode(x), state)
        return self.head(pooled), state


class CNNRNNClassifier(nn.Module):
    """The same CNN per frame, then a recurrent core that reads the features in order. (T, B, S*S) -> (T, B, C).

    The logits at step t are a linear readout of the hidden state h_t; normalize as in PerFrameClassifier.
    """

    def __init__(
        self,
        size: int = 16,
        n_classes: int = 4,
        features: int = 32,
        H: int = 32,
        cell: str = "gru",
        normalize: bool = True,
        *,
        generator: Any = None,
    ) -> None:
        super().__init__()
        n_classes = check_positive_int("n_classes", n_classes)
        size, features, _ = _frame_sizes(size, features)
        self.size, self.normalize = size, check_bool("normalize", normalize)
        with seeded(generator):
            self.encoder = FrameEncoder(size, features)
            self.norm = nn.LayerNorm(features) if self.normalize else nn.Identity()
            self.core = _recurrent(cell, features, H)
            self.head = nn.Linear(H, n_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features: x (T, B, S*S) -> (T, B, F)."""
        return _encode_frames(self, _inputs(self, x, self.size * self.size))

    def states(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """Hidden states hs (T, B, H) of the core (h_t for an LSTM) and the state after the last step."""
        feats = self.encode(x)
        return self.core(feats, _recurrent_state(self.core, "state", state, x))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        hs, state = self.states(x, state)
        return self.head(hs), state


class CharLM(nn.Module):
    """Character language model: one-hot characters (T, B, V) -> next-character logits (T, B, V)."""

    def __init__(self, V: int, H: int = 128, cell: str = "lstm", layers: int = 1, *, generator: Any = None) -> None:
        super().__init__()
        self.V = check_positive_int("V", V)
        with seeded(generator):
            self.core = _recurrent(cell, V, H, layers)
            self.readout = nn.Linear(H, V)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        x = _inputs(self, x, self.V)
        hs, state = self.core(x, _recurrent_state(self.core, "state", state, x))
        return self.readout(hs), state


def rollout(model: nn.Module, context: torch.Tensor, steps: int, state: Any = None) -> torch.Tensor:
    """Closed loop: read ``context``, then feed each prediction back in as the next input.

    context (T0, B, D) -> predictions (steps, B, D) of the ``steps`` inputs that follow the context.
    The first row is the model's ordinary (teacher-forced) output at the last context step; every later
    row sees only the model's own outputs. Needs a model whose outputs live in its input space (O = D).
    Gradients follow the caller's mode: wrap the call in ``torch.no_grad()`` to evaluate.
    """
    check_type("model", model, nn.Module, "a torch.nn.Module mapping (x, state) to (ys, state)")
    check_float_array("context", context, ("T0", "B", "D"), "torch")
    check_finite("context", context, time_axis=0)
    steps = check_positive_int("steps", steps)
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
    """The same state cut from its history (tensors detached; tuples and None kept): ``bpttlab.tree.detach``.

    state: None, a tensor, or a tuple or list of them (nested), as the models return.
    """
    from bpttlab.tree import paths

    if state is not None and not isinstance(state, (torch.Tensor, tuple, list)):
        raise TypeError(f"state: expected None, a tensor or a tuple of tensors, got {type(state).__name__}")
    for path, leaf in paths(state, "state"):
        check_type(path, leaf, torch.Tensor, "a torch.Tensor")
    return detach(state)


def _frame_sizes(size: Any, features: Any, channels: Any = 8) -> tuple[int, int, int]:
    """size: a positive multiple of 4 (two stride-2 convolutions); features, channels: positive ints. Returns them as ints."""
    size = check_positive_int("size", size)
    if size % 4 != 0:
        raise ValueError(f"size: expected a multiple of 4 (two stride-2 convolutions), got {size}")
    return size, check_positive_int("features", features), check_positive_int("channels", channels)


def _flat(name: str, value: Any, width: int, dims: tuple[str, str], module: nn.Module) -> None:
    """value: a finite float tensor (N, width) in the dtype of ``module``'s parameters."""
    check_float_array(name, value, dims, "torch")
    check_axis(name, value, 1, width, dims, "the module")
    dtype = next(module.parameters()).dtype
    if value.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the dtype of the module's parameters), got {value.dtype}")
    check_finite(name, value)
