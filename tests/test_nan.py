"""A NaN loss stops training with a clear message; the best model so far stays intact."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import ROOT, tiny_overrides

from tagger.config import load_config
from tagger.model.network import TaggerNetwork
from tagger.prediction import Tagger
from tagger.training import TrainingError, train


def test_nan_loss_stops_training_and_keeps_best_model(tmp_path, wnut40, monkeypatch):
    sets = tiny_overrides(tmp_path / "cache", **{"data.train": wnut40, "data.dev": wnut40})
    cfg = load_config(ROOT / "configs" / "demo.yaml", [*sets, "data.test=null"])
    cfg.train.batch_size = 40  # one batch per epoch: call 2 is epoch 2
    calls = {"n": 0}
    real_loss = TaggerNetwork.loss

    def loss(self, batch):
        calls["n"] += 1
        value = real_loss(self, batch)
        return value * float("nan") if calls["n"] >= 2 else value

    monkeypatch.setattr(TaggerNetwork, "loss", loss)
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match="loss became nan.*best model so far is kept"):
        train(cfg, run, progress=False, log=lambda _: None)
    info = json.loads((run / "config.json").read_text())
    assert info["epoch"] == 1
    tagger = Tagger.load(run)
    assert all(torch.isfinite(p).all() for p in tagger.network.parameters())
    assert len(tagger.tag([["hello", "world"]])[0]) == 2
