"""RecBole's SASRec or GRU4Rec on one event log, for benches/compare/sequential.py.

    python3 _recbole_seq.py MODEL EVENTS.inter THREADS BATCH SEED SCORES.npz [score|resume CHECKPOINT]

Prints one JSON line and writes SCORES.npz. Run in its own process (RecBole seeds and
configures torch globally). The log is written as a RecBole atomic file; RecBole's own
leave-one-out by time (``LS: valid_and_test``, order ``TO``) gives the same test target per
user as the caller's split (the last event) and the same validation event as mercato's early
stopping (the one before).

SCORES.npz holds the best checkpoint's scores of every test user over every item (``users``,
``targets``, ``scores``; our codes, which are RecBole's tokens), so the caller ranks them
with the same evaluator as its own rows. RecBole's evaluator differs: for sequential models
it does not mask the user's history, so every earlier item competes with the target, and a
target repeating an earlier event is ranked among all items. Its figures are in the JSON as
``recbole_*``.

With ``score CHECKPOINT`` (a ``.pth`` a RecBole run saved for these events and settings)
nothing is trained: the checkpoint is scored. ``resume CHECKPOINT`` goes on training a run
that was stopped from that checkpoint (its best epoch so far: the model, Adam's state, the
epoch and the early-stopping count), writes each new best back into that file, and scores
the best as usual; the resumed epochs draw fresh random batches, so the result is not the
bit-for-bit result of one unbroken run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time


def settings(model_name, work, batch, seed):
    """RecBole's configuration: the same sizes and stopping as mercato's models."""
    common = {
        "data_path": work,
        "checkpoint_dir": os.path.join(work, "saved"),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": 50,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "metrics": ["Hit", "NDCG", "MRR"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "epochs": 200,
        "stopping_step": 10,
        "eval_step": 1,
        "learning_rate": 1e-3,
        "train_batch_size": batch,
        "eval_batch_size": 4096,
        "loss_type": "CE",
        "train_neg_sample_args": None,
        "seed": seed,
        "reproducibility": True,
        "device": "cpu",
        "use_gpu": False,
        "show_progress": False,
        "worker": 0,
        "log_wandb": False,
    }
    if model_name == "SASRec":
        common.update(
            hidden_size=64,
            inner_size=256,
            n_layers=2,
            n_heads=1,
            hidden_dropout_prob=0.2,
            attn_dropout_prob=0.2,
            hidden_act="gelu",
            layer_norm_eps=1e-12,
        )
    else:
        common.update(embedding_size=64, hidden_size=64, num_layers=1, dropout_prob=0.2)
    return common


def test_scores(model, test, dataset):
    """``(users, targets, scores)`` of every test user, in our codes (RecBole's tokens)."""
    import numpy as np
    import torch

    uid, iid = dataset.uid_field, dataset.iid_field
    n_items = dataset.item_num - 1  # RecBole's item 0 is padding
    # our code c is RecBole's token str(c); every code occurs in the events
    cols = torch.as_tensor(dataset.token2id(iid, [str(c) for c in range(n_items)]))
    users, targets, rows = [], [], []
    model.eval()
    with torch.no_grad():
        for interaction, _, _, _ in test:
            scores = model.full_sort_predict(interaction).view(len(interaction), -1)
            rows.append(scores[:, cols].numpy().astype(np.float32))
            users.append(dataset.id2token(uid, interaction[uid].numpy()).astype(np.int64))
            targets.append(dataset.id2token(iid, interaction[iid].numpy()).astype(np.int64))
    return np.concatenate(users), np.concatenate(targets), np.vstack(rows)


def main():
    model_name, events, threads, batch, seed, out = sys.argv[1:7]
    mode, checkpoint = sys.argv[7:9] if len(sys.argv) > 8 else ("train", None)
    if mode not in ("train", "score", "resume"):
        raise SystemExit(f"unknown mode {mode!r}: score or resume")
    threads, batch, seed = int(threads), int(batch), int(seed)
    import numpy as np
    import torch

    # RecBole 1.2.1 still uses aliases NumPy 2 removed; restore them for its code only.
    for old, new in {"float_": np.float64, "complex_": np.complex128, "unicode_": np.str_}.items():
        if not hasattr(np, old):
            setattr(np, old, new)
    # RecBole 1.2.1 reloads its best checkpoint (this run's own file, holding its config
    # object) with a plain torch.load, which torch >= 2.6 refuses (weights_only=True).
    torch_load = torch.load
    torch.load = lambda *a, **k: torch_load(*a, **{"weights_only": False, **k})
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    torch.set_num_threads(threads)
    work = tempfile.mkdtemp(prefix="recbole-")
    try:
        os.makedirs(os.path.join(work, "seq"))
        shutil.copy(events, os.path.join(work, "seq", "seq.inter"))
        config = Config(model=model_name, dataset="seq", config_dict=settings(model_name, work, batch, seed))
        init_seed(config["seed"], config["reproducibility"])
        init_logger(config)  # RecBole's own log (./log/<model>/...): epochs, losses, validation
        dataset = create_dataset(config)
        train, valid, test = data_preparation(config, dataset)
        init_seed(config["seed"], config["reproducibility"])
        model = get_model(config["model"])(config, train._dataset).to(config["device"])
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
        summary = {}
        if mode == "resume":
            trainer.resume_checkpoint(checkpoint)  # later bests are written back into it
            summary["resumed_at_epoch"] = trainer.start_epoch
        if mode != "score":
            t0 = time.perf_counter()
            trainer.fit(train, valid, saved=True, show_progress=False, verbose=True)
            summary["fit_s"] = time.perf_counter() - t0
            # epochs in all, those before a resume included (RecBole counts from 0)
            epochs = max(trainer.train_loss_dict, default=trainer.start_epoch - 1) + 1
            summary.update(
                epochs_run=len(trainer.train_loss_dict),
                epochs=epochs,
                best_epoch=epochs - trainer.cur_step,
                best_valid_ndcg=float(trainer.best_valid_score),
            )
            result = trainer.evaluate(test, load_best_model=True, show_progress=False)
        else:
            result = trainer.evaluate(test, load_best_model=True, model_file=checkpoint, show_progress=False)
        summary.update({f"recbole_{k}": float(result[k]) for k in ("hit@10", "ndcg@10", "mrr@10")})
        users, targets, scores = test_scores(trainer.model, test, dataset)
        np.savez(out, users=users, targets=targets, scores=scores)
        print(json.dumps(summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
