"""Checks for the students' answers to the lesson exercises.

Each ``check_*`` function prints ``Correct: ...`` and returns True for a right answer, and raises
:class:`ExerciseError` (an ``AssertionError``) whose message says in plain words what is wrong
(wrong shape, swapped axes, forgot the stride, forgot to scale, ...) for a wrong one.
"""

from __future__ import annotations

import numpy as np
import torch

from .backbones import Backbone
from .features import extract_features

__all__ = [
    "ExerciseError",
    "check_output_shape",
    "check_strongest_channel",
    "check_to_chw",
    "check_vector_length",
]


class ExerciseError(AssertionError):
    """A student's answer is wrong; the message explains why."""


def _correct(message: str) -> bool:
    print(f"Correct: {message}")
    return True


def check_output_shape(answer, backbone: Backbone, stage: str, height: int, width: int) -> bool:
    """Check a predicted (C, H, W) of ``stage``'s output for a ``height`` x ``width`` input.

    The truth comes from a real forward pass on a zero image of that size.
    """
    s = backbone.stage(stage)
    true = tuple(extract_features(backbone, torch.zeros(1, 3, height, width), [stage])[s.name].shape[1:])
    try:
        got = tuple(int(v) for v in answer)
    except TypeError:
        raise ExerciseError(f"give a tuple (C, H, W) of three numbers, not {answer!r}") from None
    if len(got) != 3:
        raise ExerciseError(f"give three numbers (C, H, W); you gave {len(got)}: {got}")
    if got == true:
        return _correct(f"{stage} turns a {height}x{width} image into {true[0]} maps of {true[1]}x{true[2]}.")
    c, h, w = got
    if c != true[0]:
        raise ExerciseError(
            f"the channel count is wrong: {stage} has {true[0]} channels "
            f"(see backbone.stage({stage!r}).channels), you wrote {c}"
        )
    if (h, w) == (true[2], true[1]) and h != w:
        raise ExerciseError("height and width are swapped: the shape is (C, H, W), height first")
    if (h, w) == (height, width):
        raise ExerciseError(
            f"you forgot the stride: {stage} has stride {s.stride}, so each position covers "
            f"{s.stride}x{s.stride} input pixels and the map is about {height}/{s.stride} high"
        )
    raise ExerciseError(
        f"the spatial size is off: expected ceil({height}/{s.stride}) x ceil({width}/{s.stride}), "
        f"you wrote {h} x {w}"
    )


def check_to_chw(to_chw) -> bool:
    """Check a student's ``to_chw(array)``: (H, W, 3) uint8 photo -> float Tensor[3, H, W] in [0, 1]."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)  # not square: swaps show
    expected = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    out = to_chw(photo)
    if not isinstance(out, torch.Tensor):
        raise ExerciseError(f"return a torch.Tensor, not a {type(out).__name__}")
    shape = tuple(out.shape)
    if shape == (6, 4, 3) or shape == (3, 6, 4):
        raise ExerciseError(
            f"height and width are swapped (got {shape} for a 4-high, 6-wide photo): "
            "permute(2, 1, 0) reverses all axes; use permute(2, 0, 1) to move only the channels"
        )
    if shape == (4, 6, 3):
        raise ExerciseError("the channels are still last (H, W, C): move them first with permute(2, 0, 1)")
    if shape != (3, 4, 6):
        raise ExerciseError(f"expected shape (3, 4, 6) for a 4x6 photo, got {shape}")
    if not out.is_floating_point():
        raise ExerciseError(f"the tensor is {out.dtype}: networks need floats, use .float()")
    if float(out.max()) > 1.0:
        raise ExerciseError(f"values go up to {float(out.max()):.0f}: divide by 255 to get [0, 1]")
    if not torch.allclose(out, expected, atol=1e-6):
        raise ExerciseError("shape and range are right but the values differ: check the channel order")
    return _correct("(H, W, C) -> (C, H, W) with permute(2, 0, 1), scaled to [0, 1].")


def check_strongest_channel(answer, fmap: torch.Tensor) -> bool:
    """Check the index of the channel with the highest MEAN activation in ``fmap`` Tensor[C, H, W]."""
    if fmap.ndim == 4:
        fmap = fmap[0]
    means = fmap.mean(dim=(1, 2))
    best = int(means.argmax())
    if isinstance(answer, torch.Tensor):
        answer = answer.item() if answer.numel() == 1 else answer
    if isinstance(answer, float) and not answer.is_integer():
        raise ExerciseError(
            f"{answer:.3f} looks like an activation value; give the channel INDEX (use argmax, not max)"
        )
    try:
        idx = int(answer)
    except (TypeError, ValueError):
        raise ExerciseError(f"give one channel index (an int), not {answer!r}") from None
    if idx == best:
        return _correct(f"channel {best} has the highest mean activation ({float(means[best]):.3f}).")
    if not 0 <= idx < len(means):
        raise ExerciseError(f"there is no channel {idx}: this map has channels 0..{len(means) - 1}")
    if idx == int(fmap.amax(dim=(1, 2)).argmax()):
        raise ExerciseError(
            f"channel {idx} has the highest single peak, but the question asks for the highest "
            "MEAN over all positions: average over dims (1, 2) first"
        )
    raise ExerciseError(
        f"channel {idx} has mean {float(means[idx]):.3f}, but another channel is higher: "
        "average each channel over (H, W), then take the argmax"
    )


def check_vector_length(answer, backbone: Backbone, stage: str, size: int = 224) -> bool:
    """Check the length of the vector that global average pooling makes from ``stage``."""
    s = backbone.stage(stage)
    fmap = extract_features(backbone, torch.zeros(1, 3, size, size), [stage])[s.name]
    c, h, w = fmap.shape[1:]
    if answer == c:
        return _correct(f"pooling keeps one number per channel: {c} values.")
    if answer == c * h * w:
        raise ExerciseError(
            f"{c}x{h}x{w} = {answer} is the size of the map BEFORE pooling; pooling averages "
            "each channel over all positions"
        )
    if answer == h * w:
        raise ExerciseError("pooling removes the positions and keeps the channels, not the reverse")
    raise ExerciseError(f"{answer} is not it: how many channels does {stage} have?")
