"""mercato vs implicit 0.7.x on Last.fm-2k, side by side in one run.

    python3 benches/compare/implicit.py            # the comparison table
    python3 benches/compare/implicit.py --tune     # how ALS() defaults were chosen

Needs mercato built into the worktree (``maturin develop --release`` with .venv); creates
``.bench-venv`` with implicit 0.7.x the first time and re-runs itself there. Data:
``$MERCATO_DATA/lastfm-2k/user_artists.dat`` (default ``../shared/datasets``).

Protocol: per-user 80/20 split with a fixed seed (each user's entries shuffled by one seeded
numpy generator, round(20%) held out, at least one kept), the same split fed to both
libraries; metrics for both from implicit's own ``ranking_metrics_at_k`` (mercato's
``recommend`` follows implicit's signature); ALS on BM25-weighted data (K1=100, B=0.8 on
items x users) as implicit's last.fm example, with its hyper-parameters (64 factors, reg
0.05, alpha 2, 15 iterations, conjugate gradient with 3 steps) and mercato's
``confidence='implicit'`` (c = alpha * r, implicit's definition: the same model); BPR 64
factors 100 iterations with implicit's defaults (lr 0.01, reg 0.01), fit and quality as the
mean over seeds 42, 43, 44 with the spread (max - min) / 2 of each; ItemKNN cosine K=100.
ALS fit best of 3 and top-10 for all users with already-liked filtering best of 5, the calls
of both libraries alternating; each library batches top-10 its default way (extra peak
resident memory measured in a fresh process). Both use all cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".bench-venv"


def ensure_venv():
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    py = VENV / "bin" / "python"
    if not py.exists():
        print("creating .bench-venv with implicit 0.7.x ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "implicit>=0.7,<0.8", "numpy", "scipy", "pandas"])
    os.execv(str(py), [str(py), __file__, *sys.argv[1:]])


ensure_venv()
# This file is named implicit.py: keep its folder off the path so `import implicit` finds the package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "python"))  # the maturin-develop'ed mercato of this worktree

import implicit  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import threadpoolctl  # noqa: E402
from implicit.als import AlternatingLeastSquares  # noqa: E402
from implicit.bpr import BayesianPersonalizedRanking  # noqa: E402
from implicit.evaluation import ranking_metrics_at_k as implicit_metrics  # noqa: E402
from implicit.nearest_neighbours import CosineRecommender  # noqa: E402
from implicit.nearest_neighbours import bm25_weight as implicit_bm25  # noqa: E402

try:
    import mercato
    from mercato.metrics import ranking_metrics_at_k
    from mercato.recommend import ALS, BPR, ItemKNN, bm25_weight
except ImportError as e:  # pragma: no cover
    sys.exit(f"cannot import mercato ({e}); build it first: maturin develop --release")

SEED = 42


def load():
    data = Path(os.environ.get("MERCATO_DATA", ROOT.parent / "shared" / "datasets")) / "lastfm-2k" / "user_artists.dat"
    raw = np.loadtxt(data, skiprows=1, dtype=np.int64)
    users, u = np.unique(raw[:, 0], return_inverse=True)
    items, i = np.unique(raw[:, 1], return_inverse=True)
    m = sp.csr_matrix((raw[:, 2].astype(np.float32), (u, i)), shape=(len(users), len(items)))
    m.sum_duplicates()
    return m


def per_user_split(m, fraction=0.2, seed=SEED):
    rng = np.random.default_rng(seed)
    train, test = [], []
    for u in range(m.shape[0]):
        idx = np.arange(m.indptr[u], m.indptr[u + 1])
        rng.shuffle(idx)
        n_test = min(int(round(len(idx) * fraction)), max(len(idx) - 1, 0))
        test.append(idx[:n_test])
        train.append(idx[n_test:])

    def build(parts):
        sel = np.concatenate(parts)
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))[sel]
        return sp.csr_matrix((m.data[sel], (rows, m.indices[sel])), shape=m.shape)

    return build(train), build(test)


def timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


PEAK_SNIPPET = r"""
import pickle, sys
import numpy as np, scipy.sparse as sp
sys.path.insert(0, sys.argv[1])
model = pickle.load(open(sys.argv[2], "rb"))
train = sp.load_npz(sys.argv[3]).tocsr()
batch = int(sys.argv[4])
users = np.arange(train.shape[0])
kw = {"batch_size": batch} if batch else {}
def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
model.recommend(users[:2], train[users[:2]], N=10, **kw)  # warm up (thread pools, imports)
open("/proc/self/clear_refs", "w").write("5")  # resets VmHWM to the current RSS
before = rss("VmRSS")
model.recommend(users, train[users], N=10, **kw)
print(rss("VmHWM") - before)
"""


def peak_mb(model, train, batch_size=0):
    """Extra peak resident memory (MB) of top-10 for all users, in a fresh process."""
    import pickle
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        mp, tp = Path(d) / "m.pkl", Path(d) / "t.npz"
        mp.write_bytes(pickle.dumps(model))
        sp.save_npz(tp, train)
        out = subprocess.run(
            [sys.executable, "-c", PEAK_SNIPPET, str(ROOT / "python"), str(mp), str(tp), str(batch_size)],
            capture_output=True,
            text=True,
        )
        try:
            return float(out.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            print(out.stderr, file=sys.stderr)
            return float("nan")


def quality(model, train, test):
    m = implicit_metrics(model, train, test, K=10, show_progress=False)
    return m["precision"], m["ndcg"], m["map"], m["auc"]


def interleaved(fns, repeat=5):
    """Best-of-`repeat` seconds of each function, calls alternating so that load spikes on a
    shared machine hit all of them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def marketplace():
    """The demo's views/purchases (weight views + 5 x purchases) as a users x items CSR."""
    import pandas as pd

    ev = pd.read_csv(ROOT / "datasets" / "marketplace" / "events.csv")
    u = ev["user"].astype("category").cat.codes.to_numpy()
    i = ev["product"].astype("category").cat.codes.to_numpy()
    w = (ev["views"] + 5 * ev["purchases"]).to_numpy(np.float32)
    m = sp.csr_matrix((w, (u, i)), shape=(u.max() + 1, i.max() + 1))
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


def tune(train):
    """Picks ALS() defaults on validation splits carved out of the Last.fm training set and
    of the marketplace demo data (never the Last.fm test set)."""
    fit_tr, val = per_user_split(train, 0.2, SEED + 1)
    sets = {"lastfm-val": (fit_tr, val), "marketplace": per_user_split(marketplace(), 0.2, SEED)}
    grid = [dict(regularization=r) for r in (10.0, 30.0, 100.0)] + [
        dict(regularization_per_interaction=r) for r in (0.25, 0.5, 0.8, 1.0, 1.5, 2.5, 4.0)
    ]
    print("ALS defaults search, 64 factors 15 iterations, binary confidence alpha 10, raw counts, P@10 / NDCG@10:")
    for params in grid:
        out = []
        for name, (tr, va) in sets.items():
            p = dict(params)
            if "regularization_per_interaction" in p:
                p["regularization"] = p.pop("regularization_per_interaction") * tr.nnz / tr.shape[0]
            m = ALS(factors=64, iterations=15, alpha=10.0, **p).fit(tr)
            r = ranking_metrics_at_k(m, tr, va, K=10)
            out.append(f"{name} lambda={p['regularization']:.1f}: {r['precision']:.4f} {r['ndcg']:.4f}")
        print(f"  {params}: " + " | ".join(out))


def main():
    threadpoolctl.threadpool_limits(1, "blas")  # implicit's advice; its own threads do the work
    full = load()
    train, test = per_user_split(full)
    if "--tune" in sys.argv:
        tune(train)
        return
    n_users = train.shape[0]
    weighted = implicit_bm25(train.T, K1=100, B=0.8).T.tocsr()
    ours_w = bm25_weight(train.T, K1=100, B=0.8).T.tocsr()
    assert np.allclose(weighted.toarray().sum(), ours_w.toarray().sum(), rtol=1e-4), "bm25_weight differs"
    rows = []

    def add(model, metric, ours, theirs, lower_is_better=False):
        ratio = ours / theirs if theirs else float("nan")
        rows.append((model, metric, ours, theirs, ratio))

    # ALS, implicit's last.fm example settings
    it = 15
    a_me = ALS(factors=64, regularization=0.05, alpha=2.0, iterations=it, confidence="implicit", seed=SEED)
    last = {}

    def fit_im():
        # implicit's fit continues from existing factors: each timed fit gets a fresh model
        m = AlternatingLeastSquares(factors=64, regularization=0.05, alpha=2.0, iterations=it, random_state=SEED)
        m.fit(weighted, show_progress=False)
        last["im"] = m

    t_im, t_me = interleaved([fit_im, lambda: a_me.fit(weighted)], 3)
    a_im = last["im"]
    add("ALS bm25", "s/iteration", t_me / it, t_im / it)
    for name, a, b in zip(("P@10", "NDCG@10", "MAP@10", "AUC"), quality(a_me, train, test), quality(a_im, train, test)):
        add("ALS bm25", name, a, b)
    users = np.arange(n_users)

    def top10(model, **kw):
        return lambda: model.recommend(users, train[users], N=10, filter_already_liked_items=True, **kw)

    t_im_top, t_me_top, t_32, t_256 = interleaved(
        [top10(a_im), top10(a_me), top10(a_me, batch_size=32), top10(a_me, batch_size=256)]
    )
    add("ALS bm25", "top-10 all users s", t_me_top, t_im_top)
    add("ALS bm25", "top-10 all extra peak MB", peak_mb(a_me, train), peak_mb(a_im, train))
    for chunk, t_chunk in ((32, t_32), (256, t_256)):
        add("ALS bm25", f"  mercato batch_size={chunk}: s", t_chunk, t_im_top)
        add("ALS bm25", f"  mercato batch_size={chunk}: peak MB", peak_mb(a_me, train, chunk), float("nan"))

    # ALS defaults on raw counts vs the anchor (LensKit ImplicitMF-like) and implicit's defaults
    d_me = ALS(confidence="binary", seed=SEED)  # the default confidence, named: raw counts are not weights
    t_d, _ = timed(lambda: d_me.fit(train))
    d_im = AlternatingLeastSquares(factors=64, iterations=15, random_state=SEED)
    d_im.fit(weighted, show_progress=False)
    anchor = AlternatingLeastSquares(factors=64, regularization=0.1, alpha=1.0, iterations=15, random_state=SEED)
    binary = train.copy()
    binary.data[:] = 41.0  # confidence 1 + 40 for every interaction, LensKit's weight=40
    anchor.fit(binary, show_progress=False)
    q_d = quality(d_me, train, test)
    q_anchor = quality(anchor, train, test)
    for name, a, b in zip(("P@10", "NDCG@10"), q_d[:2], q_anchor[:2]):
        add("ALS() vs anchor*", name, a, b)
    add("ALS() vs anchor*", "s/iteration", t_d / 15, float("nan"))

    # BPR over three seeds: mean (and spread = (max - min) / 2) of fit time and quality
    seeds = (SEED, SEED + 1, SEED + 2)
    runs = {"mercato": [], "implicit": []}
    for seed in seeds:
        b_im = BayesianPersonalizedRanking(factors=64, iterations=100, random_state=seed)
        t_im, _ = timed(lambda m=b_im: m.fit(train, show_progress=False))
        b_me = BPR(factors=64, iterations=100, seed=seed)
        t_me, _ = timed(lambda m=b_me: m.fit(train))
        runs["implicit"].append((t_im, *quality(b_im, train, test)))
        runs["mercato"].append((t_me, *quality(b_me, train, test)))
    me, im = np.array(runs["mercato"]), np.array(runs["implicit"])
    for c, name in enumerate(("fit s", "P@10", "NDCG@10", "MAP@10", "AUC")):
        add("BPR 3 seeds", f"{name} mean", me[:, c].mean(), im[:, c].mean())
        if name in ("P@10", "NDCG@10"):
            spread = lambda a: (a.max() - a.min()) / 2  # noqa: E731
            add("BPR 3 seeds", f"{name} spread (max-min)/2", spread(me[:, c]), spread(im[:, c]))
    t_im_top, t_me_top = interleaved([top10(b_im), top10(b_me)])
    add("BPR", "top-10 all users s", t_me_top, t_im_top)

    # ItemKNN cosine
    k_im = CosineRecommender(K=100)
    t_im, _ = timed(lambda: k_im.fit(train, show_progress=False))
    k_me = ItemKNN(K=100, weighting="cosine")
    t_me, _ = timed(lambda: k_me.fit(train))
    add("ItemKNN cosine", "fit s", t_me, t_im)
    for name, a, b in zip(("P@10", "NDCG@10", "MAP@10", "AUC"), quality(k_me, train, test), quality(k_im, train, test)):
        add("ItemKNN cosine", name, a, b)
    t_im_top, t_me_top = interleaved([top10(k_im), top10(k_me)])
    add("ItemKNN cosine", "top-10 all users s", t_me_top, t_im_top)

    # mercato's own metrics agree with implicit's
    ours = ranking_metrics_at_k(a_me, train, test, K=10)
    add("check", "mercato P@10 / implicit-eval P@10", ours["precision"], quality(a_me, train, test)[0])

    print(
        f"Last.fm-2k {full.shape[0]} users x {full.shape[1]} items, train {train.nnz} / test {test.nnz}; "
        f"mercato {mercato.__version__} vs implicit {implicit.__version__}; {os.cpu_count()} cores"
    )
    print(f"{'model':<18} {'metric':<34} {'mercato':>10} {'implicit':>10} {'ratio':>7}")
    for model, metric, a, b, r in rows:
        print(f"{model:<18} {metric:<34} {a:>10.4f} {b:>10.4f} {r:>7.3f}")
    print("* anchor: implicit ALS with LensKit ImplicitMF settings (binary confidence 41 = 1 + weight 40, reg 0.1)")


if __name__ == "__main__":
    main()
