"""Both skeleton encoders (MESEN's HCN, Cosmo's 3D-CNN) read each sample in its body frame: moving
a whole sample by one vector or scaling it (where the subject stands, how tall they are, the
Standardizer's global affine) does not change what they output (issue 30, item 2)."""

from __future__ import annotations

import pytest
import torch

from automl_har.data.loaders.utd_mhad import JOINTS, skeleton_channels
from automl_har.data.skeleton import body_frame_of
from automl_har.models.cosmo_encoders import SkeletonEncoder
from automl_har.models.mesen_encoders import CoOccurrenceEncoder

ENCODERS = {
    "hcn": lambda **frame: CoOccurrenceEncoder(20, width=8, **frame),
    "cosmo_3d_cnn": lambda **frame: SkeletonEncoder(60, 60, width=4, depth=2, feature_dim=16, **frame),
}
FRAMES = {"bare": {}, "utd": {"body_frame": body_frame_of(skeleton_channels(JOINTS)).to_dict()}}


def kinect_like(n: int, generator: torch.Generator) -> torch.Tensor:
    """``(n, 60, 60)``: a pose per sample about 2.9 m from the camera, moving over 60 frames."""
    pose = torch.randn(n, 1, 20, 3, generator=generator) * 0.3 + torch.tensor([0.0, 0.0, 2.9])
    motion = torch.randn(n, 60, 20, 3, generator=generator).cumsum(1) * 0.01
    return (pose + motion).reshape(n, 60, 60)


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("name", ENCODERS)
def test_shifting_or_scaling_a_skeleton_leaves_the_encoder_output_unchanged(name, frame):
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    encoder = ENCODERS[name](**FRAMES[frame]).eval()
    x = kinect_like(3, generator)
    shift = torch.randn(3, 1, 1, 3, generator=generator)  # one 3-vector per sample, every joint and frame
    shifted = (x.reshape(3, 60, 20, 3) + shift).reshape(3, 60, 60)
    scaled = x * torch.tensor([2.7, 1.0, 0.4])[:, None, None]  # per sample
    with torch.no_grad():
        out = encoder(x)
        assert out.abs().max() > 1e-3  # not a trivially constant output
        torch.testing.assert_close(encoder(shifted), out, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(encoder(scaled), out, atol=1e-5, rtol=1e-4)
