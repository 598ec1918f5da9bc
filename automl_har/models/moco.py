"""MoCo: momentum contrast with a queue of negative keys (He et al., CVPR 2020).

IMG2IMU (Yoon et al., Sec. III-B1, Eq. 1) pre-trains its ResNet-18 with MoCo: a query encoder
trained by back-propagation, a key encoder that follows it as a moving average
(``theta_k <- m theta_k + (1 - m) theta_q``), a queue of ``K`` encoded keys as negatives and the
InfoNCE loss ``L_q = -log exp(q.k+/tau) / sum_i exp(q.k_i/tau)``. The encoder's ``fc`` layer is
the projection to ``dim`` (64 in the paper). Parameter names follow the reference code
(``encoder_q.*``, ``encoder_k.*``, ``queue``), so a saved state dict is a MoCo checkpoint.

Single device: the reference's shuffling BN needs several GPUs and is left out.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.errors import ConfigError


class MoCo(nn.Module):
    """Query/key encoders, the negative-key queue and the InfoNCE loss.

    Args:
        encoder_q: the query encoder; its output is the ``dim``-d projection.
        dim: projection (feature) dimension.
        queue_size: number of negative keys K.
        momentum: key-encoder momentum m.
        temperature: softmax temperature tau.
    """

    def __init__(self, encoder_q: nn.Module, dim: int = 64, queue_size: int = 4096, momentum: float = 0.999, temperature: float = 0.07):
        super().__init__()
        if queue_size < 1 or not 0 <= momentum < 1 or temperature <= 0:
            raise ConfigError(
                f"MoCo needs queue_size >= 1, momentum in [0, 1) and temperature > 0, but got "
                f"{queue_size=}, {momentum=}, {temperature=}"
            )
        self.dim, self.K, self.m, self.tau = dim, queue_size, momentum, temperature
        self.encoder_q = encoder_q
        self.encoder_k = copy.deepcopy(encoder_q)  # starts equal to the query encoder
        for param in self.encoder_k.parameters():
            param.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(dim, queue_size), dim=0))  # (dim, K)
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def momentum_update(self) -> None:
        """theta_k <- m theta_k + (1 - m) theta_q."""
        for param_q, param_k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            param_k.mul_(self.m).add_(param_q.detach(), alpha=1.0 - self.m)

    @torch.no_grad()
    def enqueue(self, k: Tensor) -> None:
        """Replace the oldest keys of the queue by ``k`` ``(B, dim)`` (a ring buffer)."""
        k = k[-self.K :]
        ptr = int(self.queue_ptr)
        index = (ptr + torch.arange(len(k), device=k.device)) % self.K
        self.queue[:, index] = k.T
        self.queue_ptr[0] = (ptr + len(k)) % self.K

    def forward(self, im_q: Tensor, im_k: Tensor) -> tuple[Tensor, Tensor]:
        """InfoNCE of a batch of two views ``(B, 3, H, W)`` each.

        Returns:
            ``(loss, logits)``; logits ``(B, 1 + K)`` with the positive key in column 0.
        """
        q = F.normalize(self.encoder_q(im_q), dim=1)  # (B, dim)
        with torch.no_grad():
            self.momentum_update()
            k = F.normalize(self.encoder_k(im_k), dim=1)  # (B, dim)
        l_pos = (q * k).sum(dim=1, keepdim=True)  # (B, 1)
        l_neg = q @ self.queue.clone().detach()  # (B, K)
        logits = torch.cat([l_pos, l_neg], dim=1) / self.tau  # (B, 1 + K)
        labels = torch.zeros(len(q), dtype=torch.long, device=q.device)  # the positive is column 0
        loss = F.cross_entropy(logits, labels)
        self.enqueue(k)
        return loss, logits
