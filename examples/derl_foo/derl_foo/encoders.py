"""An image encoder shipped by a plugin (docs/plugins.md, "Your own image encoder"): `--encoder foo-tiny`.

derl gives it float images (N, C, H, W), channels first, frame-stacked and divided by --image-scale; it returns
features of any shape with a batch axis, which derl flattens and maps to the algorithm's feature width."""
from torch import nn


def tiny_cnn(in_channels: int, height: int, width: int) -> nn.Module:
    """Two 3x3 convolutions, 16 channels each, the second with stride 2."""
    return nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1), nn.ReLU(), nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU())
