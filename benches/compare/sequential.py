"""Sequential next-item recommendation: mercato's SASRec and GRU4Rec next to tuned matrix
factorisation (mercato ALS, BPR), popularity and (with --recbole) RecBole 1.2.1's SASRec and
GRU4Rec, on one split in one run.

    python3 benches/compare/sequential.py                 # the marketplace sessions and ML-100k
    python3 benches/compare/sequential.py --sets lastfm   # Last.fm-2k tagging events
    PYTHONPATH=/tmp/recbole-lib python3 benches/compare/sequential.py --sets ml100k --recbole

RecBole is a peer installed for the comparison only, never a dependency: RecBole 1.2.1's
wheel with ``pip install --no-deps --target /tmp/recbole-lib`` plus its small pure-Python
requirements (colorlog colorama texttable thop tabulate tqdm tensorboard and its deps,
pydantic), using the venv's torch 2.13; ``_recbole_seq.py`` runs it in its own process.

Protocol (written here, the same for every model):
- events: ML-100k ``u.data``, every rating an event, ordered by timestamp (ties by file
  order); marketplace: ``mercato.datasets.marketplace_sessions`` (browse -> compare -> buy
  with accessories after main products); Last.fm-2k: the shared copy's only timestamps are
  the days on which users tagged artists (``user_taggedartists.dat``; its listening counts
  have no time), so each user's first tagging of an artist is an event on that day (ties
  in file order, which lists a user's artists by id), 5-core filtered (artists and users
  with at least 5 events, repeated until both hold);
- leave-last-out by time: each user's last event is the test target, the rest is training
  data (users with one event are trained on, not tested);
- full ranking: every item the user has not interacted with in training is a candidate,
  HR@10, NDCG@10 and MRR over all candidates; beside them, labelled "sampled", the same
  metrics against 100 negatives drawn uniformly (seed 0) from the candidates, the protocol
  that inflates figures (shown so readers can compare with papers that use it);
- mercato SASRec/GRU4Rec hold out each user's last *training* event for early stopping
  (patience 10 on NDCG@10), as RecBole does; ALS and BPR are tuned on the same validation
  event (grid printed), then refitted on all training events;
- same embedding size (64), max_len 50, 2 SASRec layers (1 head, inner size 256, GELU,
  dropout 0.2), 1 GRU layer, Adam 1e-3, full cross-entropy, up to 200 epochs with early
  stopping (patience 10 on validation NDCG@10) for every neural model; training threads =
  --threads. Batches differ by design: mercato trains on windows of up to 50 events with a
  target at every position (batch 128 windows), "GRU4Rec s-par" on GRU4Rec's own
  session-parallel mini-batches (128 lanes, each user's whole history one event per step),
  RecBole on one prefix per event with the target at its end (its default batch of 2048
  prefixes, or --recbole-batch: at 2048 an epoch is few steps and RecBole's SASRec took
  over 150 epochs on the marketplace without stopping);
- RecBole's rows: its best checkpoint scores every test user over all items, and those scores
  are ranked by this script's evaluator like every other row (full and sampled). RecBole's
  own evaluator's figures are in the notes: for sequential models it does not mask the
  user's history, so items seen before compete with the target (on the marketplace 44 % of
  targets, purchases after views, repeat an earlier event); its MRR is MRR@10.
- RecBole's leave-one-out needs three events for a test row (it puts a two-event user's only
  sample in validation), so it does not test those users; its row counts them as misses, and
  then every row is printed again over the users RecBole tests, the comparison fair to both;
- context (the marketplace only, whose events have a type): SASRec and session-parallel
  GRU4Rec are fitted a second time with each input event's type (view, cart, purchase) as
  a context embedding, rows "+ event"; the target's own type is not an input. RecBole's
  SASRec reads items only, so the rows without context are the like-for-like comparison;
- --seeds 0,1,2 fits every model once per seed, mercato's and RecBole's, prints each seed's
  row and then each model's mean over the seeds (one seed's figures move by about the size
  of the gaps between the models on Last.fm-2k); --models picks the rows to fit and --params
  overrides mercato's sequential models' settings (``--params stride=1,patience=20``);
- --recbole-checkpoint scores a checkpoint a RecBole run saved (for example a run that was
  stopped: hard-link its ``saved/*.pth`` while it trains) instead of training, and with
  --recbole-resume trains on from it (a run too long for one sitting: RecBole takes
  minutes per ML-100k epoch on 2 cores) and then scores the best.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
DATA = Path(os.environ.get("MERCATO_DATA", ROOT.parent / "shared" / "datasets"))

import scipy.sparse as sp  # noqa: E402
from mercato.recommend import ALS, BPR, GRU4Rec, SASRec  # noqa: E402


def load_ml100k():
    raw = np.loadtxt(DATA / "movielens-100k" / "u.data", dtype=np.int64)
    return raw[:, 0], raw[:, 1], raw[:, 3]


def load_lastfm():
    raw = np.loadtxt(DATA / "lastfm-2k" / "user_taggedartists.dat", dtype=np.int64, skiprows=1)
    users, items = raw[:, 0], raw[:, 1]
    day = raw[:, 5] * 10_000 + raw[:, 4] * 100 + raw[:, 3]
    # First tagging of each (user, artist): the earliest day, file order among equal days.
    order = np.lexsort((np.arange(len(users)), day, items, users))
    users, items, day = users[order], items[order], day[order]
    first = np.r_[True, (users[1:] != users[:-1]) | (items[1:] != items[:-1])]
    users, items, day = users[first], items[first], day[first]
    keep = np.ones(len(users), dtype=bool)
    while True:  # 5-core: drop rare artists and users until both counts hold
        _, ic, icount = np.unique(items[keep], return_inverse=True, return_counts=True)
        _, uc, ucount = np.unique(users[keep], return_inverse=True, return_counts=True)
        ok = (icount[ic] >= 5) & (ucount[uc] >= 5)
        if ok.all():
            break
        keep[np.flatnonzero(keep)[~ok]] = False
    return users[keep], items[keep], day[keep]


def load_marketplace():
    """Events and their context: the event type (view, cart, purchase) of each."""
    from mercato.datasets import marketplace_sessions

    df = marketplace_sessions()
    return df["user"].to_numpy(), df["item"].to_numpy(), df["time"].to_numpy(), {"event": df["event"].to_numpy()}


def leave_last_out(users, items, times):
    """Codes, per-user time-ordered sequences, training events and test targets."""
    order = np.lexsort((np.arange(len(users)), times, users))
    users, items, times = users[order], items[order], times[order]
    uid, u = np.unique(users, return_inverse=True)
    iid, i = np.unique(items, return_inverse=True)
    last = np.r_[u[1:] != u[:-1], True]
    counts = np.bincount(u)
    test = last & (counts[u] >= 2)
    train = ~test
    target = np.full(len(uid), -1)
    target[u[test]] = i[test]
    return dict(uid=uid, iid=iid, u=u, i=i, t=times, train=train, target=target, order=order)


def seen_matrix(s, mask):
    n_u, n_i = len(s["uid"]), len(s["iid"])
    return sp.csr_matrix((np.ones(mask.sum(), np.float32), (s["u"][mask], s["i"][mask])), shape=(n_u, n_i))


def metrics(score_fn, seen, target, n_neg=100, seed=0, chunk=512):
    """Full-ranking HR@10, NDCG@10, MRR and the sampled-100 versions."""
    users = np.flatnonzero(target >= 0)
    rng = np.random.default_rng(seed)
    n_items = seen.shape[1]
    full, samp = [], []
    for start in range(0, len(users), chunk):
        block = users[start : start + chunk]
        scores = np.asarray(score_fn(block), dtype=np.float64)
        for row, u in zip(scores, block):
            t = target[u]
            hist = seen.indices[seen.indptr[u] : seen.indptr[u + 1]]
            mask = np.ones(n_items, bool)
            mask[hist] = False
            mask[t] = True
            ts = row[t]
            rank = int(((row > ts) & mask).sum())
            full.append(rank)
            cand = np.flatnonzero(mask)
            cand = cand[cand != t]
            neg = rng.choice(cand, size=min(n_neg, len(cand)), replace=False)
            samp.append(int((row[neg] > ts).sum()))

    def summary(ranks):
        r = np.asarray(ranks)
        return {
            "HR@10": float((r < 10).mean()),
            "NDCG@10": float(np.where(r < 10, 1 / np.log2(r + 2), 0).mean()),
            "MRR": float((1 / (r + 1)).mean()),
        }

    return summary(full), summary(samp)


def fit_sequential(cls, s, threads, seed=0, context=None, **kw):
    """Fits on the training events; ``context`` maps a name to one value per event in the
    caller's order (None: no context); ``kw`` overrides the settings below."""
    tr = s["train"]
    settings = dict(factors=64, max_len=50, epochs=200, batch_size=128, learning_rate=1e-3, patience=10)
    model = cls(**{**settings, **kw}, seed=seed, device="cpu", num_threads=threads)
    t0 = time.perf_counter()
    ctx = {name: np.asarray(v)[s["order"]][tr] for name, v in (context or {}).items()}
    model.fit(s["u"][tr], s["i"][tr], s["t"][tr], context=ctx or None)
    secs = time.perf_counter() - t0
    # The model's user order is first appearance in the (sorted) training events: map back.
    pos = {int(x): k for k, x in enumerate(model.user_ids_)}
    item_pos = np.asarray(model.item_ids_)
    col = np.full(len(s["iid"]), -1)
    col[item_pos] = np.arange(len(item_pos))

    def score(block):
        raw = model.score_users([pos[int(u)] for u in block])
        out = np.full((len(block), len(s["iid"])), -np.inf, dtype=np.float32)
        known = col >= 0
        out[:, known] = raw[:, col[known]]
        return out

    h = model.history_
    stopping = h["best_epoch"] is not None  # early stopping ran
    info = f"{len(h['epochs'])} epochs" + (f" (best {h['best_epoch']})" if stopping else "")
    info += f", {h['seconds_per_epoch']:.2f} s/epoch"
    if stopping:
        info += f", best validation NDCG@10 {max(e['val_ndcg'] for e in h['epochs']):.4f}"
    return score, secs, info


def fit_mf(kind, s, threads, seed=0):
    """ALS or BPR tuned on each user's last training event, refitted on all training data."""
    tr = s["train"]
    grid = (
        [dict(factors=f, regularization=r, iterations=15) for f in (32, 64, 128) for r in (0.01, 0.1, 1.0)]
        if kind == "als"
        else [dict(factors=f, learning_rate=lr, iterations=100) for f in (32, 64, 128) for lr in (0.01, 0.05)]
    )
    make = (
        (lambda p: ALS(seed=seed, confidence="binary", num_threads=threads, **p))
        if kind == "als"
        else (lambda p: BPR(seed=seed, num_threads=threads, **p))
    )
    # Validation: the last training event of each user.
    u_tr = s["u"][tr]
    last_tr = np.r_[u_tr[1:] != u_tr[:-1], True]
    counts = np.bincount(u_tr, minlength=len(s["uid"]))
    val_mask = last_tr & (counts[u_tr] >= 2)
    idx = np.flatnonzero(tr)
    inner = tr.copy()
    inner[idx[val_mask]] = False
    val_target = np.full(len(s["uid"]), -1)
    val_target[u_tr[val_mask]] = s["i"][tr][val_mask]
    best, best_p = -1.0, grid[0]
    seen_inner = seen_matrix(s, inner)
    for p in grid:
        m = make(p).fit(seen_inner)
        full, _ = metrics(lambda b, m=m: m.user_factors[b] @ m.item_factors.T, seen_inner, val_target)
        if full["NDCG@10"] > best:
            best, best_p = full["NDCG@10"], p
    seen = seen_matrix(s, tr)
    t0 = time.perf_counter()
    m = make(best_p).fit(seen)
    secs = time.perf_counter() - t0
    return (lambda b: m.user_factors[b] @ m.item_factors.T), secs, f"tuned: {best_p}"


def run_recbole(model, s, threads, batch, seed=0, checkpoint=None, resume=False):
    """RecBole's model on the same events: ``(score_fn, fit s, note, tested)``, the first three
    like ``fit_sequential``'s, or None. Its best checkpoint's scores come back, to be ranked by
    ``metrics`` as every row; ``tested`` marks the users RecBole tests on our target (a user
    it does not test counts as a miss in its row). With ``checkpoint`` the saved run is
    scored, or with ``resume`` trained on from there (see ``_recbole_seq.py``)."""
    work = Path(tempfile.mkdtemp(prefix="seq-recbole-"))
    events, out = work / "seq.inter", work / "scores.npz"
    with open(events, "w") as f:
        f.write("user_id:token\titem_id:token\ttimestamp:float\n")
        # Our stable time order as the timestamp: RecBole's sort then splits ties alike.
        for k, (u, i) in enumerate(zip(s["u"], s["i"])):
            f.write(f"{u}\t{i}\t{k}\n")
    mode = ["resume" if resume else "score", checkpoint] if checkpoint else []
    args = [model, str(events), str(threads), str(batch), str(seed), str(out), *mode]
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("_recbole_seq.py")), *args],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
        )
        if proc.returncode != 0:
            print(f"RecBole {model} failed: {proc.stderr.strip().splitlines()[-1:]}")
            return None
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        got = np.load(out)
        users, targets, scores = got["users"], got["targets"], got["scores"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if scores.shape[1] != len(s["iid"]):
        raise SystemExit(f"RecBole scored {scores.shape[1]} items, the split has {len(s['iid'])}")
    row_of = {int(u): k for k, u in enumerate(users)}
    tested = np.zeros(len(s["uid"]), bool)
    for u in np.flatnonzero(s["target"] >= 0):
        tested[u] = int(u) in row_of and targets[row_of[int(u)]] == s["target"][u]
    other = int((s["target"] >= 0).sum() - tested.sum())

    def score(block):
        out = np.zeros((len(block), scores.shape[1]), dtype=np.float32)
        for k, u in enumerate(block):
            if int(u) in row_of:
                out[k] = scores[row_of[int(u)]]
            else:  # not in RecBole's test data: a miss
                out[k, s["target"][u]] = -np.inf
        return out

    if "fit_s" in r:
        note = (
            f"{r['epochs']} epochs (best {r['best_epoch']}), {r['fit_s'] / max(r['epochs_run'], 1):.2f} s/epoch, "
            f"best validation NDCG@10 {r['best_valid_ndcg']:.4f}, batch {batch}"
        )
        if "resumed_at_epoch" in r:
            note += f"; resumed after epoch {r['resumed_at_epoch']}: fit s and s/epoch are the resumed part's"
    else:
        note = f"checkpoint {Path(checkpoint).name}, batch {batch}"
    note += (
        f"; RecBole's own evaluator (history not masked): HR@10 {r['recbole_hit@10']:.4f}, "
        f"NDCG@10 {r['recbole_ndcg@10']:.4f}, MRR@10 {r['recbole_mrr@10']:.4f}"
    )
    if other:
        note += f"; {other} test users missing from RecBole's test data or with another target there"
    return score, r.get("fit_s", float("nan")), note, tested


MODELS = ("popularity", "ALS", "BPR", "SASRec", "GRU4Rec", "GRU4Rec-spar")


def parse_params(text):
    """``key=value,...`` as keyword arguments: numbers, ``None``, ``true``/``false`` or text."""
    out = {}
    for pair in filter(None, (text or "").split(",")):
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--params wants key=value pairs, got {pair!r}")
        try:
            out[key.strip()] = json.loads({"None": "null"}.get(raw.strip(), raw.strip()))
        except json.JSONDecodeError:
            out[key.strip()] = raw.strip()
    return out


def run_set(name, users, items, times, threads, recbole, seeds=(0,), context=None, models=MODELS, params=None):
    """Print one set's table; ``recbole`` is None or ``(models, batch, checkpoint, resume)``. Every
    model is fitted once per seed (one row each) and, with two seeds or more, gets a row of
    its means. Where a RecBole model leaves test users out, every row is printed again over
    the users all of them test, the comparison that is fair to both. With ``context`` (a name
    and one value per event), SASRec and session-parallel GRU4Rec are also fitted with it as
    input. ``params`` overrides the settings of mercato's sequential models."""
    s = leave_last_out(users, items, times)
    seen = seen_matrix(s, s["train"])
    n_test = int((s["target"] >= 0).sum())
    print(f"\n## {name}: {len(s['uid'])} users, {len(s['iid'])} items, {len(users)} events, {n_test} test users")
    params = params or {}
    if params:
        print(f"mercato's sequential models with {params}")
    runs = [
        ("SASRec", "SASRec", SASRec, {}),
        ("GRU4Rec", "GRU4Rec", GRU4Rec, {}),
        ("GRU4Rec-spar", "GRU4Rec s-par", GRU4Rec, {"batching": "session_parallel"}),
    ]
    if context:
        with_ctx = " + ".join(context)
        spar_ctx = {"batching": "session_parallel", "context": context}
        runs += [
            ("SASRec", f"SASRec + {with_ctx}", SASRec, {"context": context}),
            ("GRU4Rec-spar", f"GRU4Rec s-par + {with_ctx}", GRU4Rec, spar_ctx),
        ]
    head = f"{'HR@10':>7} {'NDCG@10':>8} {'MRR':>7} | {'sHR@10':>7} {'sNDCG@10':>9} {'sMRR':>7}"
    title = f"{'model':<36} {head} | {'fit s':>7}  notes"
    print(title)
    rows = []  # (model, label, score_fn, fit s, notes)
    figures = {}  # model -> [(full, sampled, fit s)], one per seed, for the means

    def line(label, full, samp, secs, info):
        fit = "–" if np.isnan(secs) else f"{secs:.1f}"  # a scored checkpoint has no fit time
        print(
            f"{label:<36} {full['HR@10']:7.4f} {full['NDCG@10']:8.4f} {full['MRR']:7.4f} | "
            f"{samp['HR@10']:7.4f} {samp['NDCG@10']:9.4f} {samp['MRR']:7.4f} | {fit:>7}  {info}",
            flush=True,
        )

    def show(model, label, f, secs, info, target=s["target"]):
        full, samp = metrics(f, seen, target)
        line(label, full, samp, secs, info)
        figures.setdefault(model, []).append((full, samp, secs))

    def add(model, f, secs, info, seed):
        label = f"{model}, seed {seed}" if len(seeds) > 1 else model
        rows.append((model, label, f, secs))
        show(model, label, f, secs, info)

    if "popularity" in models:
        pop = np.bincount(s["i"][s["train"]], minlength=len(s["iid"])).astype(np.float32)
        rows.append(("popularity", "popularity", lambda b: np.tile(pop, (len(b), 1)), 0.0))
        show(*rows[-1], "")
    rb_models, batch, checkpoint, resume = recbole or ((), 0, None, False)
    common = s["target"] >= 0  # the test users every RecBole row tests
    for seed in seeds:
        for kind in ("ALS", "BPR"):
            if kind in models:
                f, secs, info = fit_mf(kind.lower(), s, threads, seed)
                add(f"mercato {kind}", f, secs, info, seed)
        for key, label, cls, kw in runs:
            if key in models:
                f, secs, info = fit_sequential(cls, s, threads, seed, **{**kw, **params})
                add(f"mercato {label}", f, secs, info, seed)
        for model in rb_models:
            r = run_recbole(model, s, threads, batch, seed, checkpoint, resume)
            if r is not None:
                *row, tested = r
                add(f"RecBole {model}", *row, seed)
                common &= tested

    def print_means(users):
        print(f"\n### {name}, means over seeds {','.join(map(str, seeds))}{users}")
        print(title)
        for model, per_seed in figures.items():
            if len(per_seed) < 2:
                continue  # popularity has no seed
            full = {k: np.mean([f[k] for f, _, _ in per_seed]) for k in per_seed[0][0]}
            samp = {k: np.mean([m[k] for _, m, _ in per_seed]) for k in per_seed[0][1]}
            secs = np.mean([t for _, _, t in per_seed])
            spread = np.ptp([f["NDCG@10"] for f, _, _ in per_seed])
            line(model, full, samp, secs, f"{len(per_seed)} seeds, NDCG@10 spread {spread:.4f}")

    if len(seeds) > 1:
        print_means("")
    if 0 < common.sum() < n_test:
        print(f"\n### {name}, the {int(common.sum())} test users every RecBole row tests")
        print(title)
        figures.clear()
        for model, label, f, secs in rows:
            show(model, label, f, secs, "", target=np.where(common, s["target"], -1))
        if len(seeds) > 1:
            print_means(f", the {int(common.sum())} users every RecBole row tests")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="ml100k,marketplace")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", default="0", help="seeds (0,1,2): every model, mercato's and RecBole's, once per seed")
    ap.add_argument("--models", default=",".join(MODELS), help="mercato's rows to fit: " + ",".join(MODELS))
    ap.add_argument("--params", help="mercato's sequential models' settings, e.g. stride=1,patience=20")
    ap.add_argument("--recbole", action="store_true", help="also RecBole's SASRec and GRU4Rec (see above)")
    ap.add_argument("--recbole-models", default="SASRec,GRU4Rec", help="which RecBole models --recbole runs")
    ap.add_argument(
        "--recbole-batch",
        type=int,
        default=2048,
        help="RecBole's train_batch_size (its default 2048; smaller means more steps per epoch)",
    )
    ap.add_argument(
        "--recbole-checkpoint",
        help="score this saved RecBole checkpoint (one model, same set and batch) instead of training",
    )
    ap.add_argument(
        "--recbole-resume",
        action="store_true",
        help="train on from --recbole-checkpoint (a stopped run's best epoch), writing new bests into it",
    )
    args = ap.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    models = args.models.split(",")
    if unknown := set(models) - set(MODELS):
        ap.error(f"unknown --models {sorted(unknown)}; choose from {','.join(MODELS)}")
    extra = dict(models=models, params=parse_params(args.params))
    if args.recbole_resume and not args.recbole_checkpoint:
        ap.error("--recbole-resume needs --recbole-checkpoint")
    if args.recbole_checkpoint and len(seeds) > 1:
        ap.error("--recbole-checkpoint is one run's: give one seed")
    recbole = None
    if args.recbole:
        recbole = (args.recbole_models.split(","), args.recbole_batch, args.recbole_checkpoint, args.recbole_resume)
    print(f"threads: {args.threads}, seeds {args.seeds}; 'sampled' columns rank the target among 100 random unseen")
    for name in args.sets.split(","):
        if name == "ml100k":
            if not (DATA / "movielens-100k" / "u.data").exists():
                print(f"skip ml100k: {DATA}/movielens-100k/u.data not found")
                continue
            run_set("ML-100k", *load_ml100k(), args.threads, recbole, seeds, **extra)
        elif name == "lastfm":
            if not (DATA / "lastfm-2k" / "user_taggedartists.dat").exists():
                print(f"skip lastfm: {DATA}/lastfm-2k/user_taggedartists.dat not found")
                continue
            run_set("Last.fm-2k tagging", *load_lastfm(), args.threads, recbole, seeds, **extra)
        elif name == "marketplace":
            *events, context = load_marketplace()
            run_set("marketplace sessions", *events, args.threads, recbole, seeds, context, **extra)
        else:
            raise SystemExit(f"unknown set {name!r}")


if __name__ == "__main__":
    main()
