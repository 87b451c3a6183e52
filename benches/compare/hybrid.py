"""mercato HybridMF vs LightFM (built from its source tree) on MovieLens-100k and
CrossValidated, side by side.

    python3 benches/compare/hybrid.py                    # both data sets
    python3 benches/compare/hybrid.py crossvalidated     # one of: movielens, crossvalidated

Needs mercato built into the worktree (``maturin develop --release``) and a Python that
imports ``lightfm``: set ``LIGHTFM_PYTHON`` (default ``/tmp/lfm-venv/bin/python``, a venv
where LightFM was installed from a checkout of github.com/lyst/lightfm with
``pip install --no-build-isolation .``; its PyPI sdist no longer builds). The script
re-runs itself under that interpreter. Data: ``$MERCATO_DATA/movielens-100k``
(default ``../shared/datasets``).

Protocol (GUIDE §7): positives = ratings >= 4 (943 users x 1682 items).
* warm split: a random 20 % of the positives held out (numpy seed 0);
* cold-item split: a random 20 % of the items held out with all their positives; the
  candidates are the cold items only, which both models score from their genres alone.
Features, identical on both sides (one matrix passed to both): items = [identity | 19 genres
of u.item], users = [identity | gender, age band, occupation of u.user], each row
normalised to sum 1 (LightFM's Dataset default); cold items' rows hold only their genres.
mercato runs with ``user_identity=item_identity=False`` since the identity columns are in the
matrices. Same loss (WARP), factors (32), learning rate (0.05), max_sampled (10), epochs
(30), no regularisation. Metrics, one numpy implementation for both: per-user AUC over the
candidates (warm: every item not a training positive of the user; cold: the cold items),
P@10 and NDCG@10 over the same candidates, averaged over users with a held-out positive;
quality is the mean of seeds 0, 1, 2. Fit time: 2 threads each, the median of 3 fits,
the libraries alternating. Thread determinism: mercato at 1 and 2 threads compared bit for
bit; LightFM twice at 2 threads with the same seed.

CrossValidated (``$MERCATO_DATA/crossvalidated/data.npz``, the file LightFM's
``fetch_stackexchange('crossvalidated')`` downloads), LightFM's own hybrid example: the split
of ``fetch_stackexchange(test_set_fraction=0.1, indicator_features=False,
tag_features=True)`` (interactions after the 90th-percentile timestamp are the test set;
users with more than one training interaction kept), item features = the question tags only
(no identity: test questions are new), users by identity; WARP, 30 factors, lr 0.05,
``item_alpha=1e-6``, 10 epochs, 2 threads. Metric: LightFM's ``auc_score(model, test,
train_interactions=train)``, i.e. per-user AUC over every item that is not a training
positive of the user, averaged over users with a test positive (one numpy implementation
for both); LightFM's documentation reports 0.703 for this model. Mean of seeds 0, 1, 2; fit
time the median of 3 fits.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LFM_PY = os.environ.get("LIGHTFM_PYTHON", "/tmp/lfm-venv/bin/python")

if Path(sys.prefix).resolve() != Path(LFM_PY).parents[1].resolve() and not os.environ.get("HYBRID_BENCH_CHILD"):
    if not Path(LFM_PY).exists():
        sys.exit(f"no LightFM interpreter at {LFM_PY}; build LightFM from source (see the docstring)")
    os.environ["HYBRID_BENCH_CHILD"] = "1"
    os.execv(LFM_PY, [LFM_PY, __file__, *sys.argv[1:]])

sys.path.insert(0, str(ROOT / "python"))  # the maturin-develop'ed mercato of this worktree

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from lightfm import LightFM  # noqa: E402
from mercato.recommend import HybridMF  # noqa: E402

DATASETS = Path(os.environ.get("MERCATO_DATA", ROOT.parent / "shared" / "datasets"))
DATA = DATASETS / "movielens-100k"
FACTORS, EPOCHS, LR, MAX_SAMPLED, THREADS = 32, 30, 0.05, 10, 2
SEEDS = (0, 1, 2)


def load():
    d = np.loadtxt(DATA / "u.data", dtype=np.int64)
    nu, ni = 943, 1682
    pos = d[d[:, 2] >= 4]
    genres = []
    for line in (DATA / "u.item").read_text(encoding="latin-1").splitlines():
        genres.append([int(x) for x in line.split("|")[5:24]])
    genres = np.asarray(genres, np.float32)
    users = [line.split("|") for line in (DATA / "u.user").read_text().splitlines()]
    occ = sorted({u[3] for u in users})
    bands = [18, 25, 35, 45, 50, 56, 200]
    demo = np.zeros((nu, 2 + len(bands) + len(occ)), np.float32)
    for r, (_, age, gender, o, _) in enumerate(users):
        demo[r, 0 if gender == "M" else 1] = 1
        demo[r, 2 + next(k for k, b in enumerate(bands) if int(age) < b)] = 1
        demo[r, 2 + len(bands) + occ.index(o)] = 1
    return nu, ni, pos[:, 0] - 1, pos[:, 1] - 1, genres, demo


def normalise(m):
    m = sp.csr_matrix(m, dtype=np.float32)
    s = np.asarray(m.sum(axis=1)).ravel()
    s[s == 0] = 1
    return sp.csr_matrix(sp.diags(1 / s) @ m, dtype=np.float32)


def csr(u, i, shape):
    return sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=shape)


def splits(nu, ni, u, i, genres, demo):
    rng = np.random.default_rng(0)
    user_f = normalise(sp.hstack([sp.identity(nu), demo]))
    item_f = normalise(sp.hstack([sp.identity(ni), genres]))
    test = rng.random(len(u)) < 0.2
    warm = dict(
        train=csr(u[~test], i[~test], (nu, ni)),
        test=csr(u[test], i[test], (nu, ni)),
        user_f=user_f,
        item_f=item_f,
        eval_item_f=item_f,
        candidates=np.arange(ni),
    )
    cold_items = np.sort(rng.choice(ni, ni // 5, replace=False))
    is_cold = np.zeros(ni, bool)
    is_cold[cold_items] = True
    held = is_cold[i]
    # Cold items' rows: genres only (their identity column would be an untrained embedding).
    cold_f = normalise(sp.hstack([sp.csr_matrix((ni, ni)), genres]))
    eval_f = sp.vstack([item_f[r] if not is_cold[r] else cold_f[r] for r in range(ni)]).tocsr()
    cold = dict(
        train=csr(u[~held], i[~held], (nu, ni)),
        test=csr(u[held], i[held], (nu, ni)),
        user_f=user_f,
        item_f=item_f,
        eval_item_f=eval_f,
        candidates=cold_items,
    )
    return {"warm": warm, "cold-item": cold}


def metrics(scores, split):
    """Per-user AUC, P@10, NDCG@10 over the split's candidates (training positives excluded)."""
    train, test, cand = split["train"], split["test"], split["candidates"]
    auc, p10, ndcg = [], [], []
    disc = 1 / np.log2(np.arange(2, 12))
    for uid in range(test.shape[0]):
        t = test.indices[test.indptr[uid] : test.indptr[uid + 1]]
        if len(t) == 0:
            continue
        seen = set(train.indices[train.indptr[uid] : train.indptr[uid + 1]].tolist())
        c = np.array([x for x in cand if x not in seen])
        s = scores[uid, c]
        is_pos = np.isin(c, t)
        npos, nneg = is_pos.sum(), (~is_pos).sum()
        if npos == 0 or nneg == 0:
            continue
        ranks = s.argsort().argsort() + 1  # ties are rare with float scores
        auc.append((ranks[is_pos].sum() - npos * (npos + 1) / 2) / (npos * nneg))
        top = np.argsort(-s, kind="stable")[:10]
        hits = is_pos[top]
        p10.append(hits.mean())
        ideal = disc[: min(npos, 10)].sum()
        ndcg.append((hits * disc[: len(hits)]).sum() / ideal)
    return np.mean(auc), np.mean(p10), np.mean(ndcg)


def fit_lightfm(split, seed, threads=THREADS):
    m = LightFM(no_components=FACTORS, loss="warp", learning_rate=LR, max_sampled=MAX_SAMPLED, random_state=seed)
    t = time.perf_counter()
    m.fit(
        split["train"], user_features=split["user_f"], item_features=split["item_f"], epochs=EPOCHS, num_threads=threads
    )
    return m, time.perf_counter() - t


def fit_mercato(split, seed, threads=THREADS):
    m = HybridMF(
        factors=FACTORS, loss="warp", learning_rate=LR, epochs=EPOCHS, max_sampled=MAX_SAMPLED, seed=seed,
        num_threads=threads, user_identity=False, item_identity=False,
    )  # fmt: skip
    t = time.perf_counter()
    m.fit(split["train"], split["user_f"], split["item_f"])
    return m, time.perf_counter() - t


def scores_of(m, split):
    ub, ue = m.get_user_representations(split["user_f"])
    ib, ie = m.get_item_representations(split["eval_item_f"])
    return ue @ ie.T + ub[:, None] + ib[None, :]


def crossvalidated_split():
    """``fetch_stackexchange('crossvalidated', test_set_fraction=0.1, indicator_features=False,
    tag_features=True)``, reproduced from LightFM's source on the same file."""
    d = np.load(DATASETS / "crossvalidated" / "data.npz")
    inter = sp.coo_matrix(
        (d["interactions_data"], (d["interactions_row"], d["interactions_col"])),
        shape=tuple(d["interactions_shape"].flatten()),
    )
    inter.sum_duplicates()
    tags = sp.csr_matrix(
        (d["features_data"], (d["features_row"], d["features_col"])), shape=tuple(d["features_shape"].flatten())
    )
    cutoff = np.sort(inter.data)[int(len(inter.data) * 0.9)]
    in_train = inter.data < cutoff

    def part(mask):
        ones = np.ones(mask.sum(), np.float32)
        return sp.coo_matrix((ones, (inter.row[mask], inter.col[mask])), shape=inter.shape).tocsr()

    train, test = part(in_train), part(~in_train)
    keep = np.asarray(train.getnnz(axis=1)).ravel() > 1
    return train[keep].tocsr(), test[keep].tocsr(), tags.astype(np.float32)


def auc_all_items(score_rows, train, test, chunk=256):
    """LightFM's ``auc_score(model, test, train_interactions=train)``: per user with a test
    positive, the AUC of its test positives against every item it has not interacted with."""
    users = np.flatnonzero(np.diff(test.indptr))
    aucs = []
    for start in range(0, len(users), chunk):
        block = users[start : start + chunk]
        scores = score_rows(block)
        for row, uid in zip(scores, block):
            row = row.copy()
            row[train.indices[train.indptr[uid] : train.indptr[uid + 1]]] = np.nan  # excluded
            pos = test.indices[test.indptr[uid] : test.indptr[uid + 1]]
            valid = ~np.isnan(row)
            ranks = np.empty(len(row))
            ranks[valid] = row[valid].argsort().argsort() + 1
            pos = pos[valid[pos]]
            npos, nneg = len(pos), valid.sum() - len(pos)
            if npos and nneg:
                aucs.append((ranks[pos].sum() - npos * (npos + 1) / 2) / (npos * nneg))
    return float(np.mean(aucs))


def crossvalidated():
    if not (DATASETS / "crossvalidated" / "data.npz").exists():
        print("CrossValidated: skipped (no crossvalidated/data.npz under", DATASETS, ")")
        return
    train, test, tags = crossvalidated_split()
    f, epochs = 30, 10
    print(f"\nCrossValidated: {train.shape[0]} users x {train.shape[1]} questions, {train.nnz} training and")
    print(f"{test.nnz} test answers, {tags.shape[1]} tags; WARP, {f} factors, lr {LR}, item_alpha 1e-6,", end=" ")
    print(f"{epochs} epochs")

    def lightfm(seed):
        m = LightFM(no_components=f, loss="warp", learning_rate=LR, item_alpha=1e-6, random_state=seed)
        t = time.perf_counter()
        m.fit(train, item_features=tags, epochs=epochs, num_threads=THREADS)
        return m, time.perf_counter() - t

    def ours(seed):
        m = HybridMF(
            factors=f, loss="warp", learning_rate=LR, epochs=epochs, item_alpha=1e-6, seed=seed,
            num_threads=THREADS, item_identity=False,
        )  # fmt: skip
        t = time.perf_counter()
        m.fit(train, item_features=tags)
        return m, time.perf_counter() - t

    def scorer(m):
        ub, ue = m.get_user_representations()
        ib, ie = m.get_item_representations(tags)
        return lambda users: ue[users] @ ie.T + ub[users, None] + ib[None, :]

    rows = []
    for name, fit in (("LightFM", lightfm), ("mercato", ours)):
        aucs = [auc_all_items(scorer(fit(seed)[0]), train, test) for seed in SEEDS]
        times = [fit(0)[1] for _ in range(3)]
        rows.append((name, np.mean(aucs), (max(aucs) - min(aucs)) / 2, statistics.median(times)))
    print(f"{'library':<8} {'test AUC':>9} {'± spread':>9} {'fit s':>7}")
    for name, auc, spread, t in rows:
        print(f"{name:<8} {auc:9.4f} {spread:9.4f} {t:7.3f}")
    (_, la, _, lt), (_, ma, _, mt) = rows
    print(f"mercato - LightFM: AUC {ma - la:+.4f}; fit {lt / mt:.1f}x faster (LightFM's docs: 0.703)")


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which not in ("all", "movielens", "crossvalidated"):
        sys.exit("usage: hybrid.py [movielens|crossvalidated]")
    if which != "crossvalidated":
        movielens()
    if which != "movielens":
        crossvalidated()


def movielens():
    nu, ni, u, i, genres, demo = load()
    print(f"MovieLens-100k: {len(u)} positives (rating >= 4), {nu} users x {ni} items")
    print(f"WARP, {FACTORS} factors, lr {LR}, max_sampled {MAX_SAMPLED}, {EPOCHS} epochs, {THREADS} threads\n")
    rows = []
    for name, split in splits(nu, ni, u, i, genres, demo).items():
        q = {"LightFM": [], "mercato": []}
        for seed in SEEDS:
            lm, _ = fit_lightfm(split, seed)
            mm, _ = fit_mercato(split, seed)
            q["LightFM"].append(metrics(scores_of(lm, split), split))
            q["mercato"].append(metrics(scores_of(mm, split), split))
        times = {"LightFM": [], "mercato": []}
        for _ in range(3):
            times["LightFM"].append(fit_lightfm(split, 0)[1])
            times["mercato"].append(fit_mercato(split, 0)[1])
        for lib in ("LightFM", "mercato"):
            a = np.array(q[lib])
            rows.append((name, lib, *a.mean(axis=0), statistics.median(times[lib])))
    print(f"{'split':<10} {'library':<8} {'AUC':>7} {'P@10':>7} {'NDCG@10':>8} {'fit s':>7}")
    for name, lib, auc, p10, ndcg, t in rows:
        print(f"{name:<10} {lib:<8} {auc:7.4f} {p10:7.4f} {ndcg:8.4f} {t:7.3f}")
    for k in range(0, len(rows), 2):
        lf, me = rows[k], rows[k + 1]
        print(
            f"{lf[0]}: mercato - LightFM: AUC {me[2] - lf[2]:+.4f}, P@10 {me[3] - lf[3]:+.4f}, "
            f"NDCG@10 {me[4] - lf[4]:+.4f}; fit {lf[5] / me[5]:.1f}x faster"
        )

    split = splits(nu, ni, u, i, genres, demo)["warm"]
    a, _ = fit_mercato(split, 0, threads=1)
    b, _ = fit_mercato(split, 0, threads=2)
    same = np.array_equal(a.item_embeddings(split["item_f"]), b.item_embeddings(split["item_f"])) and np.array_equal(
        a.user_embeddings(split["user_f"]), b.user_embeddings(split["user_f"])
    )
    la, _ = fit_lightfm(split, 0, threads=2)
    lb, _ = fit_lightfm(split, 0, threads=2)
    diff = np.abs(la.item_embeddings - lb.item_embeddings).max()
    print("\nthread determinism (warm split, seed 0):")
    print(f"  mercato 1 vs 2 threads: {'bit-identical' if same else 'DIFFERENT'}")
    print(f"  LightFM 2 threads, two runs: max |item embedding difference| = {diff:.3g}")


if __name__ == "__main__":
    main()
