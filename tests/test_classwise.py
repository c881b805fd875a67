"""Per-class generators: the batched members against members run one by one, checkpoints of
both layouts, routing, mix-in, per-item determinism and the generative classifier."""

from __future__ import annotations

import copy

import pytest
import torch
from safetensors import safe_open

from learned_aug import (
    ClasswiseGenerator,
    VAEConfig,
    VQVAEConfig,
    create_generator,
    load_dataset,
    load_generator,
)
from learned_aug.bundled import PRETRAINED_DIR
from learned_aug.checkpoint import CheckpointError
from learned_aug.data import stratified_split
from learned_aug.files import WEIGHTS_NAME
from learned_aug.models.classwise import elbo_at_mean
from learned_aug.models.likelihood import gaussian_kl, reconstruction_nll
from learned_aug.models.routing import Plan
from learned_aug.models.stacked import StackedVAEs
from learned_aug.models.vae import VAE
from learned_aug.rng import ItemStreams

MEMBER = VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4, 8), hidden_dim=16)


def tiny(classes=("a", "b", "c"), mix_in: float = 0.0, **kw) -> ClasswiseGenerator:
    member = VAEConfig(**{**MEMBER.to_dict(), **kw}) if kw else MEMBER
    return ClasswiseGenerator.from_member(member, classes=list(classes), mix_in=mix_in)


def member_loss(member: VAE, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Summed negative ELBO of ``member`` alone on rows ``x`` with noise ``eps``."""
    q = member.encode(x)
    recon = reconstruction_nll(member.decode_logits(q.mean + q.stddev * eps), x, "bernoulli")
    return (recon + gaussian_kl(q.mean, 2 * q.stddev.log())).sum()


def reference_loss(gen: ClasswiseGenerator, alone: list[VAE], x, labels) -> torch.Tensor:
    """Each member alone on its pairs' rows, weighted by its share of the pairs, with the random
    draws the batched loss makes from the same RNG state: the mix-in rows, then the noise
    ``torch.randn(kk, m, d)`` of the plan's grid (slot ``(j, c)`` at ``[c, j]``)."""
    members, rows = gen._pairs(labels)
    plan = Plan.of(members, rows, len(gen.classes))
    grid = torch.randn(plan.width, plan.m, gen.members.config.latent_dim)
    eps = grid[plan.pos % plan.width, plan.pos // plan.width]
    total = sum(
        member_loss(m, x[rows[members == k]], eps[members == k]) for k, m in enumerate(alone)
    )
    return total / len(rows)


@pytest.mark.parametrize("mix_in", [0.0, 0.3])
def test_batched_members_match_members_trained_one_by_one(mix_in):
    torch.manual_seed(0)
    gen = tiny(mix_in=mix_in)
    assert isinstance(gen.members, StackedVAEs)
    alone = [copy.deepcopy(gen.members[k]) for k in range(3)]  # independent plain VAEs
    before = gen.members[0].to_mu.weight.clone()
    opt = torch.optim.Adam(gen.parameters(), lr=1e-2)
    opts = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in alone]
    batches = ([0, 1, 2, 2, 2, 0, 1, 2], [2, 0, 1, 1, 0, 1, 1, 1, 1, 2], [1, 0, 2, 0, 1, 2])
    for step, labels in enumerate(batches):  # uneven counts: the grid has padding
        labels = torch.tensor(labels)
        x = torch.rand(len(labels), 1, 8, 8, generator=torch.Generator().manual_seed(step))
        state = torch.random.get_rng_state()
        batched = gen.loss(x, labels)
        torch.random.set_rng_state(state)
        reference = reference_loss(gen, alone, x, labels)
        torch.testing.assert_close(batched["loss"], reference, rtol=1e-5, atol=1e-4)
        opt.zero_grad()
        batched["loss"].backward()
        opt.step()
        for o in opts:
            o.zero_grad()
        reference.backward()
        for o in opts:
            o.step()
    assert not torch.equal(gen.members[0].to_mu.weight, before)  # it trained
    for k, member in enumerate(alone):
        for name, value in member.state_dict().items():
            torch.testing.assert_close(gen.members[k].state_dict()[name], value, atol=1e-5, rtol=0)


def test_mix_in_gives_each_member_rows_of_the_other_classes():
    gen = tiny(classes=["a", "b"], mix_in=0.5)
    labels = torch.tensor([0] * 4 + [1] * 4)
    members, rows = gen._pairs(labels)
    for k in (0, 1):
        mine = rows[members == k]
        assert len(mine) == 8 and len(set(mine.tolist())) == 8  # 4 own + 4 others, no repeat
        assert (labels[mine] == k).sum() == 4
    lone = torch.tensor([0] * 6 + [1])  # class 1 has one row: member 1 gets one other row
    members, rows = gen._pairs(lone)
    assert (members == 0).sum() == 7 and (members == 1).sum() == 2
    assert gen.loss(torch.rand(7, 1, 8, 8), lone)["loss"].isfinite()


# ---------------------------------------------------------------- checkpoints
def test_the_bundled_per_class_checkpoint_loads_and_saves_the_same_keys(tmp_path):
    gen = load_generator("mnist-vae")
    assert isinstance(gen.members, StackedVAEs) and len(gen.members) == 10
    with safe_open(str(PRETRAINED_DIR / "mnist-vae" / WEIGHTS_NAME), "pt") as f:
        saved = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    state = gen.state_dict()
    assert sorted(state) == sorted(saved) and "members.9.to_mu.weight" in state
    for key, value in saved.items():
        assert torch.equal(state[key], value)
    gen.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / WEIGHTS_NAME), "pt") as f:
        assert sorted(f.keys()) == sorted(saved)
    again = load_generator(tmp_path)
    z, labels = torch.randn(6, 3), torch.tensor([0, 9, 3, 3, 5, 0])
    with torch.no_grad():
        torch.testing.assert_close(again.decode(z, labels), gen.decode(z, labels))


def test_a_member_weight_missing_from_the_file_is_named(tmp_path):
    gen = tiny()
    gen.save_pretrained(tmp_path)
    from safetensors.torch import load_file, save_file

    state = load_file(str(tmp_path / WEIGHTS_NAME))
    del state["members.2.to_mu.bias"]
    save_file(state, str(tmp_path / WEIGHTS_NAME))
    with pytest.raises(CheckpointError, match=r"missing keys \['members.2.to_mu.bias'\]"):
        load_generator(tmp_path)
    with pytest.raises(
        RuntimeError, match=r"Missing key\(s\) in state_dict: \"members.2.to_mu.bias\""
    ):
        gen.load_state_dict(state)
    result = gen.load_state_dict(state, strict=False)  # the other members' weights load
    assert result.missing_keys == ["members.2.to_mu.bias"] and not result.unexpected_keys


def test_a_member_is_a_plain_vae_sharing_the_weights():
    gen = tiny()
    member = gen.members[1]
    assert type(member) is VAE and member.classes == ["b"] and list(gen.members)[1] is member
    with torch.no_grad():
        member.to_mu.bias.fill_(3.0)
    assert torch.equal(gen.members.get_parameter("to_mu__bias")[1], torch.full((2,), 3.0))
    twin = copy.deepcopy(gen)  # a copy's members are views of the copy's own weights
    with torch.no_grad():
        twin.members[1].to_mu.bias.fill_(5.0)
    assert twin.members.get_parameter("to_mu__bias")[1, 0] == 5.0
    assert gen.members[1].to_mu.bias[0] == 3.0
    assert gen.double().members[1].to_mu.bias.dtype == torch.float64  # views follow moves
    assert {n for n, _ in member.named_parameters()} == {
        n for n, _ in VAE(MEMBER).named_parameters()
    }


def test_batched_members_train_under_bfloat16_autocast():
    gen = tiny()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = gen.loss(torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 1]))["loss"]
    loss.backward()
    assert loss.isfinite()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in gen.parameters())


# ---------------------------------------------------------------- routing and sampling
@pytest.mark.parametrize("labels", [[0, 2, 1, 2, 0], [1, 1, 1, 1, 1], [2, 2, 2, 2, 0], [1]])
def test_routed_calls_match_each_member_alone(labels):
    torch.manual_seed(0)
    gen = tiny().eval()
    labels = torch.tensor(labels)
    x, z = torch.rand(len(labels), 1, 8, 8), torch.randn(len(labels), 2)
    for grad in (False, True):  # without autograd a plan may gather members' weights
        with torch.set_grad_enabled(grad):
            q, mean = gen.encode(x, labels), gen.encode_mean(x, labels)
            out = gen.decode(z, labels)
            for i, k in enumerate(labels.tolist()):
                alone = gen.members[k]
                torch.testing.assert_close(mean[i], alone.encode_mean(x[i : i + 1])[0])
                torch.testing.assert_close(q.stddev[i], alone.encode(x[i : i + 1]).stddev[0])
                torch.testing.assert_close(out[i], alone.decode(z[i : i + 1])[0])
    assert q.mean.shape == (len(labels), 2) and out.shape == (len(labels), 1, 8, 8)


def test_sample_item_i_depends_on_its_own_stream_only():
    gen = tiny().eval()
    labels = [2, 0, 1, 1, 2, 2, 0]
    batch = gen.sample(7, labels, rng=ItemStreams.for_items(seed=5, indices=range(7)))
    for i in (0, 3, 6):
        alone = gen.sample(1, [labels[i]], rng=ItemStreams.for_items(seed=5, indices=[i]))
        torch.testing.assert_close(batch[i], alone[0], rtol=0, atol=1e-5)
    assert gen.sample(4).shape == (4, 1, 8, 8) and gen.sample(0).shape == (0, 1, 8, 8)
    with pytest.raises(ValueError, match="labels must lie in"):
        gen.sample(2, labels=[0, 3])


# ---------------------------------------------------------------- generative classifier
def test_class_log_likelihood_is_each_members_elbo_at_the_mean():
    torch.manual_seed(0)
    gen = tiny()
    x = torch.rand(5, 1, 8, 8)
    scores = gen.class_log_likelihood(x)
    assert scores.shape == (5, 3) and torch.equal(scores, gen.class_log_likelihood(x))
    for k in range(3):
        torch.testing.assert_close(scores[:, k], elbo_at_mean(gen.members[k], x))
    assert gen.infer_labels(x).shape == (5,)
    assert gen.class_log_likelihood(x[:0]).shape == (0, 3)


def test_the_bundled_generator_classifies_held_out_digits_far_above_chance():
    data = load_dataset("mnist-5k")
    _, held_out = stratified_split(data.y, 0.15, 0)  # its validation split: never trained on
    gen = load_generator("mnist-vae")
    with torch.no_grad():
        accuracy = (gen.infer_labels(data.x[held_out]) == data.y[held_out]).float().mean()
    assert accuracy > 0.6  # chance is 0.1


def test_other_member_kinds_score_where_they_have_an_elbo():
    tabular = create_generator("tabular-vae", (4,), ["a", "b"], per_class=True, latent_dim=2)
    assert isinstance(tabular.members, torch.nn.ModuleList)
    assert tabular.class_log_likelihood(torch.randn(6, 4)).shape == (6, 2)
    vq = ClasswiseGenerator.from_member(
        VQVAEConfig(image_size=(8, 8), hidden_channels=(8,), embedding_dim=4, codebook_size=16),
        classes=["a", "b"],
    )
    with pytest.raises(NotImplementedError, match="'vqvae' have no per-example ELBO"):
        vq.class_log_likelihood(torch.rand(2, 1, 8, 8))
