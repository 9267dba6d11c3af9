"""The training loop's contracts (issue 23, item 2): the network's train/eval mode is put back
after an epoch, the checkpoint is a typed TrainState, and library booleans are keyword-only."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

from tagger import checkpoint, training
from tagger.config import load_config
from tagger.errors import TaggerError


@pytest.fixture
def loop(tmp_path: Path, wnut40: Path) -> training.Loop:
    cfg = load_config(None, [f"data.train={wnut40}", *tiny_overrides(tmp_path / "cache")])
    built, _ = training.build_loop(cfg, tmp_path / "run", log=lambda _m: None)
    return built


@pytest.mark.parametrize("mode", [False, True])
def test_an_epoch_puts_the_mode_back(loop: training.Loop, mode: bool) -> None:
    loop.network.train(mode)
    loop.epoch(1)
    assert all(module.training == mode for module in loop.network.modules())


def test_an_epoch_that_fails_puts_the_mode_back(loop, monkeypatch) -> None:
    def fail(_ids):
        assert loop.network.training  # the steps run in training mode
        raise training.TrainingError("stop")

    monkeypatch.setattr(loop, "step", fail)
    loop.network.eval()
    with pytest.raises(training.TrainingError):
        loop.epoch(1)
    assert not loop.network.training


def test_the_checkpoint_is_a_typed_train_state(loop: training.Loop) -> None:
    loop.output.mkdir(parents=True)
    loop.run()
    state = checkpoint.load(loop.output, loop.cfg.train.max_epochs)
    assert isinstance(state, checkpoint.TrainState)
    assert state.epoch_done == loop.epoch_done == loop.cfg.train.max_epochs
    assert (state.best, state.best_epoch, state.metrics) == (
        loop.best,
        loop.best_epoch,
        loop.metrics,
    )
    assert state.rng_python == loop.rng.getstate()
    weights = loop.network.state_dict()
    assert all(torch.equal(state.network[name], weights[name]) for name in weights)
    state.best_epoch = state.epoch_done + 1  # a state no run writes
    checkpoint.save(loop.output, state)
    with pytest.raises(TaggerError, match="damaged checkpoint"):
        checkpoint.load(loop.output, loop.cfg.train.max_epochs)


@pytest.mark.parametrize(
    "function",
    [training.train, training.build_loop, training.Loop.__init__, checkpoint.check_free],
)
def test_library_booleans_are_keyword_only(function) -> None:
    flags = [p for p in inspect.signature(function).parameters.values() if p.annotation == "bool"]
    assert flags and all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in flags)
