"""K VAEs of one config run as one batched computation: their weights stacked on a member axis.

A per-class generator's members share one architecture, so layer ``l`` of all K members is one
grouped convolution (``groups=K``) or one batched matrix product. The (member, row) pairs of a
batch are laid out in a grid (``routing.Plan``): each column belongs to one member, and padding
slots, where a column has fewer rows than the grid, are computed and dropped, so each member's
terms are those it would compute alone. Activations of the conv stacks stay in the layout
``(M, kk * C, H, W)`` (column ``c``'s channels are block ``c``), the fully connected layers in
``(kk, M, features)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal

from learned_aug.models.conv import ConvTranspose2d
from learned_aug.models.likelihood import reconstruction_nll, squash
from learned_aug.models.routing import Plan
from learned_aug.models.vae import VAE, VAEConfig

# What gathering one column's weights costs in inference, in rows of computation (see
# routing.layout): a copy of a member's weights against a forward pass of one image.
GATHER_COST = 2.0

# oneDNN's grouped convolution is slow when a group has few output channels (the last layer
# of each member makes an image: 10x slower than the same work ungrouped, measured on 32 -> 1
# channels at 28x28). Such a layer runs as a depthwise convolution and a sum over each group.
DEPTHWISE_MAX_OUT = 4


def _conv(layer: nn.Conv2d, h: Tensor, w: Tensor, bias: Tensor | None, kk: int) -> Tensor:
    c_out, c_in = w.shape[1], w.shape[2]
    if kk == 1 or c_out > DEPTHWISE_MAX_OUT:
        return F.conv2d(h, w.flatten(0, 1), bias, layer.stride, layer.padding, layer.dilation, kk)
    # (kk, c_out, c_in, kh, kw) -> one filter per (member, input channel, output channel)
    depthwise = w.transpose(1, 2).reshape(kk * c_in * c_out, 1, *w.shape[3:])
    out = F.conv2d(h, depthwise, None, layer.stride, layer.padding, layer.dilation, kk * c_in)
    out = out.unflatten(1, (kk, c_in, c_out)).sum(2).flatten(1, 2)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def _grouped(layer: nn.Module, h: Tensor, w: Tensor, b: Tensor | None, kk: int) -> Tensor:
    """One layer of ``kk`` members on the grouped layout (``w``, ``b``: stacked, ``kk`` first)."""
    if isinstance(layer, nn.SiLU):
        return F.silu(h)
    bias = None if b is None else b.flatten()
    if isinstance(layer, nn.ConvTranspose2d):
        weight = w.flatten(0, 1)
        if kk == 1 and len(h) and isinstance(layer, ConvTranspose2d) and layer._native(h):
            return torch.ops.aten.slow_conv_transpose2d(
                h, weight, layer.kernel_size, bias, layer.stride, layer.padding,
                layer.output_padding, layer.dilation,
            )  # fmt: skip
        return F.conv_transpose2d(
            h, weight, bias, layer.stride, layer.padding, layer.output_padding, kk, layer.dilation
        )
    if isinstance(layer, nn.Conv2d):
        return _conv(layer, h, w, bias, kk)
    raise TypeError(f"no stacked form for a {type(layer).__name__} layer")


class _BatchedLinear(torch.autograd.Function):
    """``h @ w^T + b`` per member, with the weight gradient computed in the weight's own
    layout: autograd's ``baddbmm`` backward makes it transposed, then copies it back (a
    strided copy that took longer than the products themselves)."""

    @staticmethod
    def forward(ctx, h: Tensor, w: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(h, w)
        return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: Tensor):
        h, w = ctx.saved_tensors
        grad_h = torch.bmm(grad, w) if ctx.needs_input_grad[0] else None
        return grad_h, torch.bmm(grad.transpose(1, 2), h), grad.sum(1)


def _linear(h: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``kk`` linear layers at once: ``h`` (kk, M, in), ``w`` (kk, out, in), ``b`` (kk, out)."""
    if len(w) == 1:
        return F.linear(h[0], w[0], b[0]).unsqueeze(0)
    if torch.is_grad_enabled() and w.requires_grad and not torch.is_autocast_enabled(h.device.type):
        return _BatchedLinear.apply(h, w, b)
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))


class StackedVAEs(nn.Module):
    """K unconditional VAEs of one config as one module, run as one batched computation.

    The parameters are the members' weights stacked on a leading member axis (an optimizer over
    ``parameters()`` trains every member); ``state_dict`` and ``load_state_dict`` speak
    per-member keys, ``{k}.<name>``, the layout of an ``nn.ModuleList`` of VAEs, so checkpoints
    saved before stacking load unchanged. ``stacked[k]`` is member ``k`` as a plain
    :class:`~learned_aug.models.vae.VAE` sharing the stacked weights (reads and in-place edits
    reach them; train the stack, not the view).

    Args:
        config: the config of every member (unconditional: ``conditional=False``).
        classes: the class of each member, one member per class (K = ``len(classes)``).

    Example:
        >>> import torch
        >>> from learned_aug.models.vae import VAEConfig
        >>> config = VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4,), hidden_dim=8)
        >>> stacked = StackedVAEs(config, classes=["a", "b", "c"])
        >>> sorted(stacked.state_dict())[:2], stacked.get_parameter("to_mu__weight").shape
        (['0.dec_fc.0.bias', '0.dec_fc.0.weight'], torch.Size([3, 2, 8]))
        >>> stacked.decode(torch.randn(5, 2), torch.tensor([0, 2, 2, 1, 0])).shape
        torch.Size([5, 1, 8, 8])
        >>> stacked.class_log_likelihood(torch.rand(4, 1, 8, 8)).shape
        torch.Size([4, 3])
    """

    def __init__(self, config: VAEConfig, classes: list[str]):
        super().__init__()
        if config.conditional:
            raise ValueError(f"stacked members must be unconditional, got {config.conditional=}")
        self.classes, self.count = list(classes), len(classes)
        self.config = dataclasses.replace(config, classes=[])
        members = [VAE(self.config) for _ in classes]  # each initialised as a lone VAE is
        with torch.device("meta"):
            template = VAE(self.config)
        object.__setattr__(self, "_template", template)  # the architecture, not a submodule
        self.gather_cost = GATHER_COST
        self._attrs: dict[str, str] = {}
        for name, _ in template.named_parameters():
            attr = name.replace(".", "__")
            values = torch.stack([m.get_parameter(name).detach() for m in members])
            self.register_parameter(attr, nn.Parameter(values))
            self._attrs[name] = attr
        self.register_state_dict_post_hook(_per_member_keys)
        self.register_load_state_dict_pre_hook(_stacked_keys)

    # ------------------------------------------------------------ members as modules
    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[VAE]:
        return (self[k] for k in range(self.count))

    def __getitem__(self, k: int) -> VAE:
        if not -self.count <= k < self.count:
            raise IndexError(f"member index {k} out of range for {self.count} members")
        k %= self.count
        views = self.__dict__.setdefault("_views", {})
        if k not in views:
            with torch.device("meta"):
                member = VAE(dataclasses.replace(self.config, classes=[self.classes[k]]))
            for name, attr in self._attrs.items():
                owner, _, leaf = name.rpartition(".")
                param = getattr(self, attr)
                view = nn.Parameter(param.detach()[k], requires_grad=param.requires_grad)
                setattr(member.get_submodule(owner), leaf, view)
            views[k] = member
        member = views[k]
        if member.training != self.training:  # train() walks every submodule: only on change
            member.train(self.training)
        return member

    def _apply(self, fn, recurse=True):
        self.__dict__.pop("_views", None)  # the views share storage that a move replaces
        return super()._apply(fn, recurse)

    def __getstate__(self) -> dict:
        # A copy (deepcopy, pickle) builds its own views of its own stack.
        return {k: v for k, v in self.__dict__.items() if k != "_views"}

    # ------------------------------------------------------------ the batched pass
    def _params(self, name: str, cols: Cols) -> Tensor:
        """The stacked weight ``name`` of the members of the columns ``cols`` (a view of the
        parameter unless gathered)."""
        p = getattr(self, self._attrs[name])
        if isinstance(cols, int):
            return p[cols : cols + 1]
        if isinstance(cols, Tensor):
            return p.index_select(0, cols)
        if cols is None or (cols.start, cols.stop) == (0, len(p)):
            return p  # not p[:]: a slice's backward writes into a zeroed copy of the whole
        return p[cols]

    def _seq(self, prefix: str, h: Tensor, cols: Cols, kk: int) -> Tensor:
        for i, layer in enumerate(getattr(self._template, prefix)):
            if isinstance(layer, nn.SiLU):
                h = F.silu(h)
                continue
            w, b = self._params(f"{prefix}.{i}.weight", cols), None
            if layer.bias is not None:
                b = self._params(f"{prefix}.{i}.bias", cols)
            h = _grouped(layer, h, w, b, kk)
        return h

    def _fc(self, name: str, h: Tensor, cols: Cols) -> Tensor:
        return _linear(h, self._params(f"{name}.weight", cols), self._params(f"{name}.bias", cols))

    def posterior(self, x: Tensor, cols: Cols, *, variance: bool = True):
        """``(mu, logvar)`` ``(kk, M, d)`` of images in the grouped layout ``(M, kk, C, H, W)``
        (``cols``: the members of the columns, see ``map_pairs``)."""
        kk = x.shape[1]
        h = self._seq("encoder", x.flatten(1, 2), cols, kk)
        h = h.unflatten(1, (kk, -1)).flatten(2).transpose(0, 1).contiguous()  # (kk, M, feat.)
        h = F.silu(self._fc("enc_fc.0", h, cols))
        mu = self._fc("to_mu", h, cols)
        return mu, self._fc("to_logvar", h, cols).clamp(-20.0, 10.0) if variance else None

    def decode_logits(self, z: Tensor, cols: Cols) -> Tensor:
        """Decoder outputs ``(M, kk, C, H, W)`` of latents ``(kk, M, d)``."""
        kk, m = z.shape[:2]
        h = F.silu(self._fc("dec_fc.2", F.silu(self._fc("dec_fc.0", z, cols)), cols))
        bottom = self._template._bottom
        h = h.transpose(0, 1).reshape(m, kk * bottom[0], *bottom[1:])
        out = self._seq("decoder", h, cols, kk)
        height, width = self.config.image_size
        if out.shape[-2:] != (height, width):
            out = out[..., :height, :width]
        return out.unflatten(1, (kk, self.config.channels))

    def terms(self, x: Tensor, cols: Cols, *, sample: bool) -> tuple[Tensor, Tensor]:
        """Per-slot reconstruction NLL and KL ``(M, kk)`` of images ``(M, kk, C, H, W)``: with
        ``z`` drawn from the posterior (``Normal.rsample``, as a member alone draws it), else
        ``z = mu``."""
        mu, logvar = self.posterior(x, cols)
        z = Normal(mu, torch.exp(0.5 * logvar), validate_args=False).rsample() if sample else mu
        recon = reconstruction_nll(self.decode_logits(z, cols), x, self.config.likelihood, 2)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        return recon, kl.transpose(0, 1)

    # ------------------------------------------------------------ routed by member
    def map_pairs(self, x: Tensor, members: Tensor, rows: Tensor, fn: PairFn) -> Tensor:
        """``fn(grid, cols)`` on the pairs ``(members[i], x[rows[i]])``, one value per pair.

        ``grid`` is ``(m, kk, ...)``, laid out by :class:`~learned_aug.models.routing.Plan`
        (``cols``: the members of the columns, a slice of the stack or gathered indices);
        ``fn`` returns ``(m, kk, ...)`` and padding slots are dropped.
        """
        if len(members) <= 1:  # one image (a per-image transform): no routing at all
            k = int(members) if len(members) else 0
            return fn(x[rows].unsqueeze(1), k).flatten(0, 1)
        # Gathered columns only without autograd: in training they measured slower than the
        # padding they save (the gathers' backward, and grouped convolutions whose group
        # count changes from batch to batch).
        gather = None if torch.is_grad_enabled() else self.gather_cost
        plan = Plan.of(members, rows, self.count, gather)
        grid = x[plan.rows].unflatten(0, (plan.m, plan.width))
        return fn(grid, plan.columns).flatten(0, 1)[plan.pos]

    # ------------------------------------------------------------ the Generator surface
    def encode(self, x: Tensor, labels: Tensor) -> Normal:
        """Posterior of each image under its class's member."""
        d = self.config.latent_dim
        both = self.map_pairs(x, labels, _arange(x), lambda g, c: _cat_t(self.posterior(g, c)))
        return Normal(both[:, :d], torch.exp(0.5 * both[:, d:]), validate_args=False)

    def encode_mean(self, x: Tensor, labels: Tensor) -> Tensor:
        """Posterior mean of each image under its class's member."""
        fn = lambda g, c: self.posterior(g, c, variance=False)[0].transpose(0, 1)  # noqa: E731
        return self.map_pairs(x, labels, _arange(x), fn)

    def decode(self, z: Tensor, labels: Tensor) -> Tensor:
        """Each latent decoded by its class's member, in [0, 1]."""
        fn = lambda g, c: self.decode_logits(g.transpose(0, 1), c)  # noqa: E731
        out = self.map_pairs(z, labels, _arange(z), fn)
        return squash(out, self.config.likelihood)

    def loss(self, x: Tensor, members: Tensor, rows: Tensor, *, kl_weight: float = 1.0):
        """Negative ELBO averaged over the pairs ``(members[i], x[rows[i]])``: each member's
        loss on its rows, weighted by their count."""
        fn = lambda g, c: torch.stack(self.terms(g, c, sample=True), -1)  # noqa: E731
        recon, kl = self.map_pairs(x, members, rows, fn).unbind(1)
        per_pair = recon + kl_weight * self.config.kl_weight * kl
        return {"loss": per_pair.mean(), "recon": recon.mean(), "kl": kl.mean()}

    def class_log_likelihood(self, x: Tensor, chunk: int = 256) -> Tensor:
        """``(B, K)``: every member's ELBO of every image at ``z = mu``, in one pass a chunk."""
        scores = []
        for part in x.split(chunk) if len(x) else ():
            grid = part.unsqueeze(1).expand(-1, self.count, *part.shape[1:])
            recon, kl = self.terms(grid, None, sample=False)
            scores.append(-(recon + self.config.kl_weight * kl))
        return torch.cat(scores) if scores else x.new_empty(0, self.count)


Cols = slice | Tensor | int | None  # members of the columns: a range, indices, one, or all
PairFn = Callable[[Tensor, Cols], Tensor]


def _arange(x: Tensor) -> Tensor:
    return torch.arange(len(x), device=x.device)


def _cat_t(parts: tuple[Tensor, Tensor]) -> Tensor:
    """``(kk, M, d)`` mean and log-variance -> ``(M, kk, 2d)``."""
    return torch.cat(parts, -1).transpose(0, 1)


def _per_member_keys(module: StackedVAEs, state: dict, prefix: str, metadata) -> None:
    """state_dict post-hook: each stacked tensor becomes its members' keys ``{k}.<name>``.

    Copies, not views: safetensors refuses to save slices of one storage."""
    for name, attr in module._attrs.items():
        stacked = state.pop(prefix + attr)
        for k, value in enumerate(stacked.detach().unbind(0)):
            state[f"{prefix}{k}.{name}"] = value.clone()


def _stacked_keys(
    module: StackedVAEs,
    state: dict,
    prefix: str,
    metadata,
    strict,
    missing_keys,
    unexpected,
    errors,
) -> None:
    """load_state_dict pre-hook: the members' keys ``{k}.<name>`` become the stacked tensors.

    A member key that is absent keeps the member's current weight and is reported missing (an
    error when ``strict``), under its per-member name."""
    for name, attr in module._attrs.items():
        if prefix + attr in state:
            continue
        stacked = getattr(module, attr).detach().clone()
        for k in range(module.count):
            key = f"{prefix}{k}.{name}"
            if key not in state:
                missing_keys.append(key)
                continue
            value = state.pop(key)
            if value.shape != stacked.shape[1:]:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)}, "
                    f"the shape in the current model is {tuple(stacked.shape[1:])}."
                )
                continue
            stacked[k] = value
        state[prefix + attr] = stacked
