"""Skeleton modalities: which modality is one, and its body-relative frame.

A skeleton window is ``(N, T, 3J)``: J joints, joint-major (``j0x, j0y, j0z, j1x ...``), channel
names ``skeleton_<joint>_<x|y|z>`` (``loaders/utd_mhad.skeleton_channels``). Raw Kinect
coordinates are camera coordinates: where a subject stands and how tall they are would be
features a few-label classifier can memorise. :func:`body_relative` removes both per sample: it
moves a body joint of the first frame to the origin and divides by a body length, as the public
UTD-MHAD skeleton code does (cmc-cmkm, Brinzea et al., IJCNN'22: spine of frame 0, unit
shoulder_center-spine). The skeleton encoders apply it first thing in ``forward``, so every
checkpoint, bundle and ``autohar predict`` applies it too; the joints come from the dataset's own
channel names (:func:`body_frame_of`), never from indices hard-coded in a method.

Since the frame cancels any shift and any positive scale of a sample, it also cancels the one
global affine z-score a skeleton modality gets from the ``Standardizer`` (``data/splits.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from automl_har.data.tensors import shared_tensor
from automl_har.errors import ConfigError

if TYPE_CHECKING:
    import torch

#: named joint conventions: (name, origin joints, the two joints of the unit length)
CONVENTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, str]], ...] = (
    # Kinect v1, 20 joints, UTD-MHAD's Skeleton/Skeleton_joint_order.txt (cmc-cmkm's frame, audit E1)
    ("kinect_v1", ("spine",), ("shoulder_center", "spine")),
    # Kinect v2, 25 joints (JointType: SpineBase, SpineMid, Neck, ..., SpineShoulder)
    ("kinect_v2", ("spine_mid",), ("spine_shoulder", "spine_mid")),
)
#: the smallest unit length: a degenerate sample (all joints at one point, zeros) stays finite
MIN_LENGTH = 1e-6
_AXIS = re.compile(r"^(.*?)[_\-. ]?([xyz])$", re.IGNORECASE)


@dataclass(frozen=True)
class BodyFrame:
    """Where a skeleton sample's origin is and what its unit length is.

    Attributes:
        origin: joint indices whose mean in frame 0 is the origin (one joint normally); empty =
            every joint (the centroid of frame 0).
        scale: two joints whose distance, averaged over the frames, is the unit length; None =
            the RMS distance of every joint of every frame from the origin.
    """

    origin: tuple[int, ...] = ()
    scale: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", tuple(int(j) for j in self.origin))
        if self.scale is not None:
            if len(self.scale) != 2 or int(self.scale[0]) == int(self.scale[1]):
                raise ConfigError(f"a body frame's scale is two different joints, but got scale={self.scale}; "
                                  "give two joint indices, e.g. [1, 2], or null for the RMS spread")
            object.__setattr__(self, "scale", (int(self.scale[0]), int(self.scale[1])))
        if min((*self.origin, *(self.scale or ())), default=0) < 0:
            raise ConfigError(f"body frame joint indices must be >= 0, but got {self.to_dict()}")

    def check(self, n_joints: int) -> None:
        """Raise :class:`ConfigError` unless every joint index is below ``n_joints``."""
        if max((*self.origin, *(self.scale or ())), default=-1) >= n_joints:
            raise ConfigError(f"the body frame {self.to_dict()} names a joint beyond the skeleton's {n_joints}; "
                              "rebuild it from this data's channels (data.skeleton.body_frame_of)")

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (it travels in checkpoint build kwargs and YAML)."""
        return {"origin": list(self.origin), "scale": None if self.scale is None else list(self.scale)}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any] | None) -> "BodyFrame":
        """Rebuild from :meth:`to_dict` output; None = the centroid fallback ``BodyFrame()``."""
        if state is None:
            return cls()
        if not isinstance(state, Mapping) or set(state) - {"origin", "scale"}:
            raise ConfigError(f"a body frame is {{'origin': [...], 'scale': [a, b] or None}}, but got {state!r}; "
                              "pass the output of BodyFrame.to_dict()")
        scale = state.get("scale")
        return cls(tuple(state.get("origin", ())), None if scale is None else tuple(scale))


def is_skeleton(modality: str, channels: Sequence[str] | int) -> bool:
    """Whether a modality is a skeleton: its name contains ``skeleton`` and it has 3 channels
    (x, y, z) per joint. ``channels``: its channel names, or their count."""
    count = channels if isinstance(channels, int) else len(channels)
    return "skeleton" in modality.lower() and count > 0 and count % 3 == 0


def joint_names(channels: Sequence[str]) -> list[str] | None:
    """The joint of every xyz triple of channel names (``skeleton_spine_x`` -> ``skeleton_spine``),
    lower-case snake case; None unless the names come in triples of one stem."""
    if not channels or len(channels) % 3:
        return None
    stems = []
    for name in channels:
        match = _AXIS.match(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name)))
        if match is None:
            return None
        stems.append(re.sub(r"[\s\-.]+", "_", match.group(1)).lower())
    triples = [stems[i:i + 3] for i in range(0, len(stems), 3)]
    if any(len(set(t)) != 1 for t in triples):
        return None
    return [t[0] for t in triples]


def _index(joints: Sequence[str], name: str) -> int | None:
    """The joint whose name is ``name`` or ends in ``_name`` (after a modality prefix)."""
    found = [i for i, joint in enumerate(joints) if joint == name or joint.endswith("_" + name)]
    return found[0] if len(found) == 1 else None


def body_frame_of(channels: Sequence[str]) -> BodyFrame:
    """The body frame of a skeleton modality from its channel names ``skeleton_<joint>_<x|y|z>``.

    The joint names are matched against :data:`CONVENTIONS` (Kinect v1: origin ``spine``, unit
    ``shoulder_center``-``spine``; Kinect v2: ``spine_mid``, ``spine_shoulder``-``spine_mid``).
    Joints of no known convention fall back to ``BodyFrame()``: the centroid of frame 0 and the RMS
    spread, which are still shift- and scale-invariant, only less tied to the body.
    """
    joints = joint_names(channels)
    if joints is None:
        return BodyFrame()
    for _, origin, scale in CONVENTIONS:
        found = [_index(joints, name) for name in (*origin, *scale)]
        if None not in found:
            return BodyFrame(tuple(found[:len(origin)]), (found[-2], found[-1]))
    return BodyFrame()


def body_relative(x: "torch.Tensor | np.ndarray", frame: BodyFrame | Mapping[str, Any] | None = None):
    """``(N, T, 3J)`` joint-major skeleton windows in the body frame of each sample: the origin of
    frame 0 subtracted from every joint of every frame, then divided by the unit length (clamped
    to :data:`MIN_LENGTH`). A torch Tensor gives a Tensor (traceable: no data-dependent control
    flow), a NumPy array the same values as an array (a linear probe sees what the encoder sees).

    Args:
        x: skeleton windows, 3 channels (x, y, z) per joint.
        frame: a :class:`BodyFrame`, its :meth:`~BodyFrame.to_dict`, or None (the centroid fallback).
    """

    if isinstance(x, np.ndarray):
        return body_relative(shared_tensor(np.ascontiguousarray(x)), frame).numpy()
    frame = frame if isinstance(frame, BodyFrame) else BodyFrame.from_dict(frame)
    n, t, c = x.shape
    if c % 3:
        raise ConfigError(f"skeleton windows need 3 channels (x, y, z) per joint, but got {c}")
    frame.check(c // 3)
    joints = x.reshape(n, t, c // 3, 3)
    first = joints[:, :1]  # (N, 1, J, 3)
    if frame.origin:  # slices, not an index tensor: a traced bundle then holds no constant tensor
        origin = sum(first[:, :, j:j + 1] for j in frame.origin) / len(frame.origin)
    else:
        origin = first.mean(dim=2, keepdim=True)
    centred = joints - origin  # (N, T, J, 3)
    if frame.scale is None:  # RMS distance from the origin over every joint and frame
        length = centred.pow(2).sum(-1).mean(dim=(1, 2)).sqrt()
    else:
        a, b = frame.scale
        length = (joints[:, :, a] - joints[:, :, b]).pow(2).sum(-1).sqrt().mean(dim=1)  # (N,)
    return (centred / length.clamp_min(MIN_LENGTH)[:, None, None, None]).reshape(n, t, c)
