"""Skeleton modalities: the body frame named by the dataset's joints, the body-relative transform
(NumPy and torch alike, finite on degenerate input) and the Standardizer's per-modality rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from automl_har.data import WindowedData
from automl_har.data.loaders.utd_mhad import JOINTS, skeleton_channels
from automl_har.data.skeleton import BodyFrame, body_frame_of, body_relative, is_skeleton, joint_names
from automl_har.data.splits import MODALITY_NORMALIZATION, Standardizer, modality_normalization
from automl_har.errors import ConfigError

UTD = skeleton_channels(JOINTS)
#: Kinect v2 JointType order, snake case
KINECT_V2 = ("spine_base", "spine_mid", "neck", "head", "shoulder_left", "elbow_left", "wrist_left", "hand_left",
             "shoulder_right", "elbow_right", "wrist_right", "hand_right", "hip_left", "knee_left", "ankle_left",
             "foot_left", "hip_right", "knee_right", "ankle_right", "foot_right", "spine_shoulder", "hand_tip_left",
             "thumb_left", "hand_tip_right", "thumb_right")


def test_utd_joint_names_give_the_spine_origin_and_the_shoulder_center_spine_unit():
    frame = body_frame_of(UTD)
    assert frame == BodyFrame(origin=(JOINTS.index("spine"),), scale=(JOINTS.index("shoulder_center"),
                                                                      JOINTS.index("spine")))
    assert frame.to_dict() == {"origin": [2], "scale": [1, 2]}
    assert joint_names(UTD)[:2] == ["skeleton_head", "skeleton_shoulder_center"]


def test_kinect_v2_names_in_snake_or_camel_case_give_the_spine_mid_frame():
    assert body_frame_of(skeleton_channels(KINECT_V2)) == BodyFrame((1,), (20, 1))
    camel = [f"{joint}{axis}" for joint in ("SpineBase", "SpineMid", "SpineShoulder") for axis in "XYZ"]
    assert body_frame_of(camel) == BodyFrame((1,), (2, 1))


@pytest.mark.parametrize("channels", [skeleton_channels(f"joint{i}" for i in range(20)),
                                      [f"skeleton_{i}" for i in range(60)],
                                      ["skeleton_head_x", "skeleton_neck_y", "skeleton_spine_z"], []])
def test_unknown_or_unnamed_joints_fall_back_to_the_centroid_and_the_rms_spread(channels):
    assert body_frame_of(channels) == BodyFrame() == BodyFrame(origin=(), scale=None)


def test_a_body_frame_travels_as_plain_lists_through_yaml():
    frame = body_frame_of(UTD)
    assert BodyFrame.from_dict(yaml.safe_load(yaml.safe_dump(frame.to_dict()))) == frame
    assert BodyFrame.from_dict(None) == BodyFrame.from_dict(BodyFrame().to_dict()) == BodyFrame()
    with pytest.raises(ConfigError, match="two different joints"):
        BodyFrame((2,), (1, 1))
    with pytest.raises(ConfigError, match="BodyFrame.to_dict"):
        BodyFrame.from_dict({"centre": [2]})
    with pytest.raises(ConfigError, match="beyond the skeleton's 2"):
        body_relative(torch.zeros(1, 2, 6), frame)


def test_is_skeleton_needs_the_name_and_three_channels_per_joint():
    assert is_skeleton("skeleton", UTD) and is_skeleton("Kinect_Skeleton", 75)
    assert not is_skeleton("skeleton", 61) and not is_skeleton("acc", 3) and not is_skeleton("skeleton", [])


def test_body_relative_puts_the_spine_of_frame_0_at_the_origin_with_a_unit_body_length():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 10, 60)).astype(np.float32)
    frame = body_frame_of(UTD)
    y = body_relative(x, frame).reshape(4, 10, 20, 3)
    np.testing.assert_allclose(y[:, 0, 2], 0, atol=1e-6)  # spine of frame 0
    unit = np.linalg.norm(y[:, :, 1] - y[:, :, 2], axis=-1).mean(axis=1)  # shoulder_center - spine, over frames
    np.testing.assert_allclose(unit, 1, rtol=1e-5)
    fallback = body_relative(x, None).reshape(4, 10, 20, 3)
    np.testing.assert_allclose(fallback[:, 0].mean(axis=1), 0, atol=1e-6)  # centroid of frame 0
    np.testing.assert_allclose(np.sqrt((fallback ** 2).sum(-1).mean(axis=(1, 2))), 1, rtol=1e-5)


def test_numpy_and_torch_give_the_same_values_and_degenerate_samples_stay_finite():
    x = np.random.default_rng(1).normal(size=(3, 8, 60)).astype(np.float32)
    x[1] = 0.0  # no body at all
    x[2] = 5.0  # every joint at one point
    for frame in (body_frame_of(UTD), BodyFrame()):
        as_numpy = body_relative(x, frame)
        assert isinstance(as_numpy, np.ndarray) and as_numpy.dtype == np.float32 and np.isfinite(as_numpy).all()
        np.testing.assert_array_equal(as_numpy, body_relative(torch.from_numpy(x), frame).numpy())
        np.testing.assert_array_equal(as_numpy[1:], 0)


def _windows(n: int = 6) -> WindowedData:
    rng = np.random.default_rng(2)
    imu = rng.normal(size=(n, 20, 3)) * [1.0, 10.0, 100.0]  # one axis per scale
    skeleton = rng.normal(size=(n, 12, 60)) * np.tile([0.1, 1.0, 3.0], 20) + np.tile([0.0, -0.5, 2.9], 20)
    return WindowedData({"acc": imu.astype(np.float32), "skeleton": skeleton.astype(np.float32)},
                        np.arange(n) % 2, np.zeros(n, np.int64), ["a", "b"], {"acc": 50.0, "skeleton": 30.0},
                        {"acc": ["acc_x", "acc_y", "acc_z"], "skeleton": UTD})


@pytest.mark.parametrize("mode", ["channel", "sensor"])
def test_a_skeleton_gets_one_global_affine_whatever_the_experiment_mode(mode):
    data = _windows()
    fitted = Standardizer(mode=mode).fit(data)
    skeleton = data.modalities["skeleton"].astype(np.float64)
    np.testing.assert_allclose(fitted.means["skeleton"], np.full(60, skeleton.mean()))  # one value, per channel
    np.testing.assert_allclose(fitted.stds["skeleton"], np.full(60, skeleton.std()))
    acc = data.modalities["acc"].reshape(-1, 3).astype(np.float64)
    expected = acc.mean(axis=0) if mode == "channel" else np.full(3, acc.mean())
    np.testing.assert_allclose(fitted.means["acc"], expected)  # the IMU follows the experiment's mode
    assert set(Standardizer.from_dict(fitted.to_dict()).means) == {"acc", "skeleton"}
    assert modality_normalization("skeleton", UTD, mode) == MODALITY_NORMALIZATION["skeleton"] == "sensor"
    assert modality_normalization("acc", ["acc_x", "acc_y", "acc_z"], mode) == mode


def test_the_body_frame_cancels_the_skeletons_global_affine():
    data = _windows()
    z = Standardizer(mode="channel").fit(data).transform(data)
    frame = body_frame_of(UTD)
    np.testing.assert_allclose(body_relative(z.modalities["skeleton"], frame),
                               body_relative(data.modalities["skeleton"], frame), atol=2e-5)
