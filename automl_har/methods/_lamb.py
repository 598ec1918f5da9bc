"""LAMB: layer-wise adaptive moments for large-batch training.

You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer, Hsieh, "Large Batch
Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020 (Algorithm 2).
MaskCAE pre-trains with it (Cheng et al., Sec. IV-A).

Per parameter tensor ``x``: Adam moments with bias correction give the direction
``u = m_hat / (sqrt(v_hat) + eps) + weight_decay * x``; the step is scaled by the trust ratio
``||x|| / ||u||`` (1 when either norm is zero), so every layer moves by about ``lr`` times its own
norm whatever the scale of its gradients.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from automl_har.errors import ConfigError


class Lamb(torch.optim.Optimizer):
    """LAMB optimizer.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        betas: decay rates of the first and second moments.
        eps: added to ``sqrt(v_hat)``.
        weight_decay: decoupled L2 term added to the update before the trust ratio.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6, weight_decay: float = 0.0) -> None:
        if not lr >= 0:
            raise ConfigError(f"LAMB learning rate must be >= 0, but got lr={lr}")
        if not all(0 <= b < 1 for b in betas):
            raise ConfigError(f"LAMB betas must be in [0, 1), but got betas={betas}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @staticmethod
    def trust_ratio(weight_norm: Tensor, update_norm: Tensor) -> Tensor:
        """``||x|| / ||u||``, or 1 when either norm is zero (fresh zero-initialised layers)."""
        ok = (weight_norm > 0) & (update_norm > 0)
        return torch.where(ok, weight_norm / update_norm.clamp_min(1e-30), torch.ones_like(weight_norm))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                m.lerp_(p.grad, 1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                update = m_hat / (v_hat.sqrt() + group["eps"])
                if group["weight_decay"]:
                    update.add_(p, alpha=group["weight_decay"])
                ratio = self.trust_ratio(p.norm(), update.norm())
                p.sub_(update * (group["lr"] * ratio))
        return loss
