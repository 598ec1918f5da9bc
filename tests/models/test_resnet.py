"""ResNet-18: torchvision-compatible keys, and weights loading from state dicts and MoCo checkpoints."""

from __future__ import annotations

import pytest
import torch

from automl_har.errors import DataFormatError
from automl_har.models.moco import MoCo
from automl_har.models.resnet import ResNet18, backbone_state_dict, load_resnet18_weights


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 3, 32, 48)


def _perturbed(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Non-default BN statistics too, so a load that skips buffers would show."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.add_(0.05 * torch.randn(tensor.shape, generator=generator))
                if name.endswith("running_var"):
                    tensor.abs_()
    return model.eval()


def test_state_dict_keys_are_torchvision_resnet18():
    keys = list(ResNet18().state_dict())
    assert len(keys) == 122  # torchvision.models.resnet18().state_dict() has 122 entries
    for key in ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.1.bn2.num_batches_tracked",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight",
                "fc.weight", "fc.bias"):
        assert key in keys
    assert ResNet18().fc.weight.shape == (1000, 512)
    assert sum(p.numel() for p in ResNet18().parameters()) == 11_689_512  # torchvision's count


def test_features_and_identity_head(images):
    model = ResNet18(num_classes=0).eval()
    assert model.features(images).shape == (2, 512)
    torch.testing.assert_close(model(images), model.features(images))


def test_torchvision_state_dict_file_round_trip(tmp_path, images):
    source = _perturbed(ResNet18(), seed=1)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    loaded = load_resnet18_weights(path, num_classes=5).eval()
    torch.testing.assert_close(loaded.features(images), source.features(images))
    assert loaded.fc.out_features == 5  # the file's 1000-class fc is ignored


@pytest.mark.parametrize("prefix", ["module.", ""])
def test_moco_checkpoint_loads_the_query_encoder(tmp_path, images, prefix):
    moco = MoCo(_perturbed(ResNet18(num_classes=64), seed=2), dim=64, queue_size=32)
    with torch.no_grad():  # make the key encoder differ, so loading the wrong one would show
        for param in moco.encoder_k.parameters():
            param.add_(1.0)
    path = tmp_path / "moco.pth.tar"
    torch.save({"epoch": 40, "arch": "resnet18", "state_dict": {prefix + k: v for k, v in moco.state_dict().items()}}, path)
    loaded = load_resnet18_weights(path).eval()
    torch.testing.assert_close(loaded(images), moco.encoder_q.eval().features(images))


def test_not_a_resnet_is_a_clear_error(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(3)}, path)
    with pytest.raises(DataFormatError, match="not a ResNet-18 backbone"):
        load_resnet18_weights(path)
    (tmp_path / "text.pt").write_text("not a torch file")
    with pytest.raises(DataFormatError, match="cannot read ResNet-18 weights"):
        load_resnet18_weights(tmp_path / "text.pt")
    with pytest.raises(DataFormatError, match="keys missing"):
        backbone_state_dict({k: v for k, v in ResNet18().state_dict().items() if not k.startswith("layer4")})
