# Submit a run, wait for it, load its best checkpoint into the model: in a notebook or a script.
# (docs/cli.md "Python client"; tests/system/test_client.py runs this file against a real server.)
import os

import torch

from app.client import Client
from trainer.config import RunConfig
from trainer.data import build_datasets
from trainer.models import build_model

client = Client(os.environ.get("TORCHDASH_URL", "http://127.0.0.1:8000"))
run = client.create_run({"name": "digits-mlp", "max_epochs": 3, "device": "cpu"})
run = client.wait(run.id)  # follows the run's event stream until it has finished
print(run.status, run.monitor, run.best_metric, "at epoch", run.best_epoch)

best = client.best_checkpoint(run.id)  # the best by the run's monitored metric
path = client.download_checkpoint(run.id, best.epoch, "model", out="checkpoints")
config = RunConfig.model_validate(run.config)
data = build_datasets(config.data)
model = build_model(config.model, data.input_shape, data.num_classes)
model.load_state_dict(torch.load(path, weights_only=True))
model.eval()
inputs, label = data.val[0]
prediction = model(inputs.unsqueeze(0)).argmax().item()
print("best epoch", best.epoch, "predicts", prediction, "for", label)
