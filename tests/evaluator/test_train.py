"""Proxy training on tiny generated data: success, reports, determinism and every failure kind.

Faults are injected with forward hooks on the real model that evaluate() builds."""
from __future__ import annotations

import math
import time

import pytest
import torch

from mixsearch.evaluator import EvalResult, Failure, ProxyConfig, ProxyConfigError, evaluate, proxy_arch
from mixsearch.evaluator import train as train_module
from mixsearch.evaluator.proxy import load_data
from mixsearch.evaluator.train import validation_set
from mixsearch.search_space import count_flops, count_params


@pytest.fixture
def inject(monkeypatch):
    """inject(hook): every model evaluate() builds gets `hook` as a forward hook on its head."""
    def install(hook):
        real = train_module.build_proxy_model

        def build(arch, config):
            model = real(arch, config)
            model.head.register_forward_hook(hook)
            return model
        monkeypatch.setattr(train_module, "build_proxy_model", build)
    return install


def test_trains_and_reports_every_epoch(arch, fast_config):
    seen = []
    result = evaluate(arch, fast_config.replace(epochs=3), report=lambda epoch, m: seen.append((epoch, dict(m))))
    assert result.ok and result.failure is None
    assert [e for e, _ in seen] == [0, 1, 2]
    assert [m for _, m in seen] == result.curve
    for metrics in result.curve:
        assert {"val_accuracy", "val_loss", "train_loss"} <= set(metrics)
        assert 0.0 <= metrics["val_accuracy"] <= 1.0 and math.isfinite(metrics["val_loss"])
    assert result.accuracy == result.curve[-1]["val_accuracy"]
    assert result.val_loss == result.curve[-1]["val_loss"]
    small = proxy_arch(arch, fast_config, load_data(fast_config))
    assert (result.proxy_params, result.proxy_flops) == (count_params(small), count_flops(small))
    assert small.blocks == arch.blocks and small.num_classes == 3 and small.stem_stride == 1
    assert result.seconds > 0
    assert EvalResult.from_dict(result.to_dict()) == result


def test_learns_a_learnable_task(arch, fast_config):
    result = evaluate(arch, fast_config.replace(epochs=8, noise=0.0, rotate=0.0, shift=0.0, scale=0.0, lr=0.05))
    assert result.ok and result.accuracy >= 0.8  # bars at different rows: far above chance (1/3)


def test_same_seed_same_curve_other_seed_other_curve(arch, fast_config):
    a = evaluate(arch, fast_config)
    b = evaluate(arch, fast_config)
    c = evaluate(arch, fast_config.replace(seed=1))
    strip = lambda r: [{k: v for k, v in m.items() if k != "seconds"} for m in r.curve]  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where torch sees no GPU")
def test_auto_device_without_a_gpu_is_the_cpu_and_cuda_is_a_clear_error(arch, fast_config):
    strip = lambda r: [{k: v for k, v in m.items() if k != "seconds"} for m in r.curve]  # noqa: E731
    assert strip(evaluate(arch, fast_config.replace(device="auto"))) == strip(evaluate(arch, fast_config))
    with pytest.raises(ProxyConfigError, match="proxy.device: 'cuda', but torch .* sees no CUDA device; use device"):
        evaluate(arch, fast_config.replace(device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (run on a GPU machine)")
def test_cuda_trains_the_same_batches_as_the_cpu_and_is_deterministic(arch, fast_config):
    """Same seeded init and draws on both devices. At a normal lr float rounding compounds over an
    epoch of SGD (0.25% of the first epoch's loss on an H200, as much as another seed), so the
    comparison is of nearly frozen weights: then only rounding (TF32 convs) separates the devices."""
    gpu, again = (evaluate(arch, fast_config.replace(repeats=2, device="cuda")) for _ in range(2))
    assert gpu.ok and [m["val_accuracy"] for m in gpu.curve] == [m["val_accuracy"] for m in again.curve]
    frozen = fast_config.replace(repeats=2, lr=1e-6, epochs=1)
    loss = lambda config: evaluate(arch, config).curve[0]["train_loss"]  # noqa: E731
    cpu, cuda, cpu_other_seed = loss(frozen), loss(frozen.replace(device="cuda")), loss(frozen.replace(seed=5))
    assert abs(cuda - cpu) < 2e-3 * cpu
    assert abs(cuda - cpu) < abs(cpu_other_seed - cpu) / 3


def test_repeats_report_the_mean_of_the_same_trainings_run_alone(arch, fast_config):
    alone = [evaluate(arch, fast_config.replace(seed=s)) for s in (3, 4)]
    both = evaluate(arch, fast_config.replace(seed=3, repeats=2))
    assert both.ok and len(both.curve) == fast_config.epochs
    for epoch, metrics in enumerate(both.curve):
        for key in ("val_accuracy", "val_loss", "train_loss"):
            assert metrics[key] == pytest.approx((alone[0].curve[epoch][key] + alone[1].curve[epoch][key]) / 2,
                                                 rel=1e-12, abs=1e-12)
    assert both.accuracy == both.curve[-1]["val_accuracy"]


def test_val_draws_add_fixed_distortions_of_the_same_images(arch, fast_config):
    fast_config = fast_config.replace(distort_val=True, noise=0.3)
    data = load_data(fast_config)
    one_x, _ = validation_set(data, fast_config.replace(val_draws=1))
    three_x, three_y = validation_set(data, fast_config.replace(val_draws=3, seed=5))
    n = len(data.val_y)
    assert three_x.shape[0] == 3 * n and torch.equal(three_y, data.val_y.repeat(3))
    assert torch.equal(three_x[:n], one_x)  # draw 0 is the single-draw task, whatever the seed
    assert not torch.equal(three_x[n:2 * n], three_x[:n])
    plain_x, _ = validation_set(data, fast_config.replace(val_draws=3, distort_val=False))
    assert torch.equal(plain_x, data.val_x)  # undistorted draws would all be the same images
    result = evaluate(arch, fast_config.replace(val_draws=3))
    assert result.ok and round(result.accuracy * 3 * n) == pytest.approx(result.accuracy * 3 * n, abs=1e-6)


def test_caller_torch_settings_are_restored(arch, fast_config):
    threads = torch.get_num_threads()
    before = torch.are_deterministic_algorithms_enabled()
    evaluate(arch, fast_config.replace(threads=1, epochs=1))
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == before


class Prune(Exception):
    pass


def test_report_exception_propagates(arch, fast_config):
    calls = []

    def report(epoch, metrics):
        calls.append(epoch)
        if epoch == 1:
            raise Prune("stop here")
    with pytest.raises(Prune):
        evaluate(arch, fast_config.replace(epochs=4), report)
    assert calls == [0, 1]


def test_nan_loss(arch, fast_config, inject):
    inject(lambda module, inputs, output: output * float("nan"))
    result = evaluate(arch, fast_config)
    assert result.failure.kind == "nan" and "epoch 0 batch 0" in result.failure.message
    assert not result.ok and result.accuracy == 0.0 and result.val_loss is None and result.curve == []


def test_huge_learning_rate_fails_as_nan_or_divergence(arch, fast_config):
    result = evaluate(arch, fast_config.replace(lr=1e8, schedule="constant", epochs=3))
    assert result.failure is not None and result.failure.kind in ("nan", "diverged")


def test_divergence(arch, fast_config, inject):
    calls = {"n": 0}

    def blow_up(module, inputs, output):
        calls["n"] += module.training
        return output * 1e4 if calls["n"] > 2 else output  # finite, but the loss explodes at the 3rd batch
    inject(blow_up)
    result = evaluate(arch, fast_config)
    assert result.failure.kind == "diverged", result.failure
    assert "epoch 0 batch 2" in result.failure.message


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB"),
                                   MemoryError()])
def test_out_of_memory(arch, fast_config, inject, error):
    def hook(module, inputs, output):
        raise error
    inject(hook)
    result = evaluate(arch, fast_config)
    assert result.failure.kind == "oom"
    assert type(error).__name__ in result.failure.message


def test_time_limit(arch, fast_config, inject):
    inject(lambda module, inputs, output: time.sleep(0.05))
    result = evaluate(arch, fast_config.replace(time_limit_s=0.3, epochs=5))
    assert result.failure.kind == "timeout" and "0.3 s" in result.failure.message
    assert result.seconds < 3.0  # stopped between batches, not at the end


def test_other_exception_is_an_error_result(arch, fast_config, inject):
    def hook(module, inputs, output):
        raise ValueError("shape mismatch in candidate")
    inject(hook)
    result = evaluate(arch, fast_config)
    assert result.failure == Failure("error", "ValueError: shape mismatch in candidate")


def test_unbuildable_proxy_is_an_error_result(arch, fast_config):
    # 16 projection groups fit 16 channels, not the 8 of the half-width proxy: a build failure.
    from mixsearch.search_space import BlockSpec
    bad = arch.replace(blocks=arch.blocks + (BlockSpec(out_chs=16, exp_ratio=2, proj_groups=16),))
    result = evaluate(bad, fast_config.replace(width_mult=0.5))
    assert result.failure.kind == "error" and "proj_groups" in result.failure.message
    assert result.proxy_params == 0 and result.curve == []


def test_default_config_is_the_documented_proxy():
    config = ProxyConfig()
    assert config.dataset == "cifar10-mini" and config.epochs >= 1
    # The measured recipe of benchmarks/results_proxy.md (real-task table)
    assert (config.resolution, config.width_mult, config.epochs, config.batch_size, config.lr, config.repeats,
            config.train_size, config.val_size, config.bn_batches, config.flip, config.distort_val) == \
        (16, 0.5, 3, 32, 0.02, 2, 4000, 2000, 16, True, False)
    assert ProxyConfig.from_dict(config.to_dict()) == config
