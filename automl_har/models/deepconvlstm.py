"""DeepConvLSTM (Ordóñez & Roggen 2016) as used by Presotto et al., "Combining Public Human Activity
Recognition Datasets to Mitigate Labeled Data Scarcity" (SMARTCOMP 2023, §III-D, Table VI).

The layers follow the authors' released Keras model (spec ``combined.md`` §3.1): four
``(kernel, 1)`` convolutions without padding slide along time only, so every sensor axis keeps
its own feature maps; each time step's ``axes x filters`` maps are flattened (axis-major, as
Keras' channels-last reshape) and fed to two LSTMs, each followed by dropout. The feature is the
last LSTM's final state (``lstm_units``-d); the head is ``Linear(lstm_units, n_classes)``.

Keras initialisers (§3.5 item 5): glorot_uniform kernels and zero biases, orthogonal recurrent
kernels, forget-gate bias 1 (put in ``b_ih``; ``b_hh`` stays zero). With the defaults and 10
classes the net has 458,570 PyTorch parameters = 457,546 Keras parameters (Keras has one LSTM bias
per gate, PyTorch two).
"""

from __future__ import annotations

from torch import Tensor, nn

from automl_har.errors import ConfigError
from automl_har.models._keras_blocks import keras_init_

#: number of stacked temporal convolutions
CONV_LAYERS = 4


def check_deepconvlstm_window(window_length: int, kernel: int = 5) -> None:
    """Raise :class:`ConfigError` unless the four valid convolutions leave at least one time step."""
    shortest = CONV_LAYERS * (kernel - 1) + 1
    if window_length < shortest:
        raise ConfigError(f"DeepConvLSTM with kernel {kernel} needs windows of at least {shortest} samples "
                          f"(each of its {CONV_LAYERS} convolutions drops {kernel - 1}), but got {window_length=}; "
                          f"use longer windows or a smaller kernel")


class DeepConvLSTM(nn.Module):
    """Four temporal convolutions, two LSTMs, a linear head; input ``(N, T, C)`` channels-last.

    ``T`` must exceed ``4 * (kernel - 1)``: each convolution shortens the window by ``kernel - 1``.

    Args:
        in_channels: C, the sensor axes (any number; acc first, then gyro).
        n_classes: width of the head.
        filters: feature maps per convolution.
        kernel: temporal kernel length of the convolutions.
        lstm_units: hidden size of both LSTMs (= ``feature_dim``).
        dropout: rate of the dropout after each LSTM (changes no weight shape).
    """

    def __init__(self, in_channels: int, n_classes: int, *, filters: int = 64, kernel: int = 5,
                 lstm_units: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        if in_channels < 1 or kernel < 1:
            raise ConfigError(f"DeepConvLSTM needs in_channels >= 1 and kernel >= 1, but got {in_channels=}, {kernel=}")
        self.in_channels, self.kernel = in_channels, kernel
        layers: list[nn.Module] = []
        for index in range(CONV_LAYERS):
            layers += [nn.Conv2d(1 if index == 0 else filters, filters, (kernel, 1)), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        self.lstm1 = nn.LSTM(in_channels * filters, lstm_units, batch_first=True)
        self.dropout1 = nn.Dropout(dropout)
        self.lstm2 = nn.LSTM(lstm_units, lstm_units, batch_first=True)
        self.dropout2 = nn.Dropout(dropout)
        self.feature_dim = lstm_units
        self.head = nn.Linear(lstm_units, n_classes)
        keras_init_(self)

    def features(self, x: Tensor) -> Tensor:
        """``(N, T, C)`` -> ``(N, lstm_units)``: the last LSTM's final output, after dropout.

        The dropout belongs to the feature: in the release it sits between the last LSTM and the
        softmax Dense, which is what a new head replaces (identity at evaluation).
        """
        maps = self.convs(x.unsqueeze(1))  # (N, filters, T - 4(kernel-1), C)
        steps = maps.permute(0, 2, 3, 1).flatten(2)  # (N, T', C * filters), index = axis * filters + filter
        sequence, _ = self.lstm1(steps)
        sequence, _ = self.lstm2(self.dropout1(sequence))
        return self.dropout2(sequence[:, -1])

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, n_classes)`` of windows ``(N, T, C)`` (softmax lives in the loss)."""
        return self.head(self.features(x))
