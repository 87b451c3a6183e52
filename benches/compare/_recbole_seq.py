"""RecBole's SASRec or GRU4Rec on one event log, for benches/compare/sequential.py.

    python3 _recbole_seq.py MODEL EVENTS.tsv THREADS [BATCH]   # prints one JSON line

Run in its own process (RecBole seeds and configures torch globally). The log is written as
a RecBole atomic file; RecBole's own leave-one-out by time (``LS: valid_and_test``, order
``TO``) gives the same test target per user as the caller's split (the last event) and the
same validation event as mercato's early stopping (the one before). Evaluation is RecBole's
full ranking with each user's history masked.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time


def main():
    model_name, events, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 2048
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
            "seed": 0,
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
        config = Config(model=model_name, dataset="seq", config_dict=common)
        init_seed(config["seed"], config["reproducibility"])
        init_logger(config)  # RecBole's own log (./log/<model>/...): epochs, losses, validation
        dataset = create_dataset(config)
        train, valid, test = data_preparation(config, dataset)
        init_seed(config["seed"], config["reproducibility"])
        model = get_model(config["model"])(config, train._dataset).to(config["device"])
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
        t0 = time.perf_counter()
        trainer.fit(train, valid, saved=True, show_progress=False, verbose=True)
        fit_s = time.perf_counter() - t0
        result = trainer.evaluate(test, load_best_model=True, show_progress=False)
        epochs = len(trainer.train_loss_dict)
        print(
            json.dumps(
                {
                    "hit@10": float(result["hit@10"]),
                    "ndcg@10": float(result["ndcg@10"]),
                    "mrr@10": float(result["mrr@10"]),
                    "fit_s": fit_s,
                    "epochs": epochs,
                    "best_epoch": epochs - trainer.cur_step,
                    "best_valid_ndcg@10": float(trainer.best_valid_score),
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
