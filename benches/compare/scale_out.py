"""Scale-out measurements: mercato.dask and mercato.spark against one process, in one run.

    python3 benches/compare/scale_out.py                    # defaults sized for a 2-core box
    python3 benches/compare/scale_out.py --rows 10000000 --users 1000000 --items 100000

Needs mercato built into the worktree's .venv (``maturin develop --release``) with
``mercato[dask,spark]`` installed (python/requirements-dev.txt has them) and Java for Spark.

1. Scoring: an IsolationForest (100 trees, 256 samples, fitted on 50,000 rows) scores
   ``--rows`` generated transactions of 8 features (100,000-row partitions, generated on the
   workers and persisted before timing): one process with num_threads=1 and with all cores;
   a Dask LocalCluster of 1 and of 2 worker processes (1 thread each, as mercato.dask sets),
   and of 1 process with 2 threads (threads of one worker in parallel: the native calls
   release the GIL); Spark local[1] and local[2] (mapInPandas, cached input). Rows/s = rows /
   best of 3 wall times; peak RSS per Dask worker process and per Spark Python worker (the
   JVM executor's own memory is not counted).
2. Top-10 for all users of an ALS model (``--users`` x ``--items``, ``--factors``; factors
   from 3 ALS iterations on generated interactions, 10 per user), no seen-item filtering
   (as MLlib): one process; Dask 1 and 2 workers (mercato.dask.recommend, 20,000-user
   blocks); Spark local[2] (mercato.spark.recommend); and Spark MLlib's own
   ``ALSModel.recommendForAllUsers(10)`` on the same factors (written as an ALSModel),
   with the share of top-10 lists equal as sets.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FEATURES = 8
PART_ROWS = 100_000


def gen_part(i: int, rows: int) -> pd.DataFrame:
    """Partition i of the generated transactions (deterministic)."""
    rng = np.random.default_rng(1000 + i)
    x = rng.normal(size=(rows, FEATURES))
    x[: rows // 100] += 4.0
    return pd.DataFrame(x, columns=[f"f{j}" for j in range(FEATURES)])


def gen_block(a: tuple[int, int]) -> pd.DataFrame:
    return gen_part(*a)


def best_of(n, fn):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    process that started a Dask worker)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def part_sizes(total: int) -> list[int]:
    n = -(-total // PART_ROWS)
    return [min(PART_ROWS, total - i * PART_ROWS) for i in range(n)]


def fit_detector():
    from mercato.fraud import IsolationForest

    return IsolationForest(n_estimators=100, seed=0).fit(gen_part(10_000, 50_000))


def als_model(users: int, items: int, factors: int):
    import scipy.sparse as sp
    from mercato.recommend import ALS

    rng = np.random.default_rng(7)
    nnz = users * 10
    u = np.repeat(np.arange(users), 10)
    i = (rng.zipf(1.3, nnz) - 1) % items
    m = sp.csr_matrix((np.ones(nnz, np.float32), (u, i)), shape=(users, items))
    m.sum_duplicates()
    return ALS(factors=factors, iterations=3, seed=1).fit(m)


def dask_runs(det, als, args, rows_table, rec_table):
    import dask.dataframe as dd
    import mercato.dask as mdask
    from distributed import Client, LocalCluster, wait

    sizes = part_sizes(args.rows)
    # (worker processes, threads per worker): 1 x 2 shows threads of one worker scoring in
    # parallel (the native calls release the GIL); top-N is measured for the first two only
    for workers, threads in ((1, 1), (2, 1), (1, 2)):
        label = f"Dask, {workers} worker{'s' if workers > 1 else ''}" + (f" x {threads} threads" if threads > 1 else "")
        with LocalCluster(
            n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=None, memory_limit="6GiB"
        ) as cluster, Client(cluster) as client:
            ddf = dd.from_map(gen_block, list(enumerate(sizes))).persist()
            wait(ddf)
            base = client.run(peak_rss_mb)
            t = best_of(3, lambda d=ddf: mdask.score(det, d).sum().compute())
            rss = client.run(peak_rss_mb)
            rows_table.append(
                (
                    label,
                    t,
                    args.rows / t,
                    max(rss.values()),
                    max(rss[k] - base[k] for k in rss),
                )
            )
            client.cancel(ddf)  # frees the workers' partitions before top-N
            if threads > 1:
                continue
            t = best_of(1, lambda: mdask.recommend(als, N=10, filter_already_liked_items=False))
            rss = client.run(peak_rss_mb)
            rec_table.append((f"mercato.dask, {workers} worker{'s' if workers > 1 else ''}", t, max(rss.values())))


def write_mllib_model(spark, als, path: str):
    """An MLlib ALSModel with mercato's factors: fit a tiny one for its metadata, then replace
    its factor tables (ids are the row indices)."""
    from pyspark.ml.recommendation import ALS as SparkALS

    k = als.item_factors_.shape[1]
    tiny = spark.createDataFrame([(0, 0, 1.0), (1, 1, 1.0), (0, 1, 1.0)], ["user", "item", "rating"])
    SparkALS(rank=k, maxIter=1, implicitPrefs=True, userCol="user", itemCol="item").fit(tiny).write().overwrite().save(
        path
    )

    def table(f):
        return pd.DataFrame({"id": np.arange(len(f), dtype=np.int32), "features": list(f.astype(np.float32))})

    for name, f in (("userFactors", als.user_factors_), ("itemFactors", als.item_factors_)):
        t = os.path.join(path, name)
        shutil.rmtree(t)
        spark.createDataFrame(table(f), "id int, features array<float>").write.parquet(t)


def spark_runs(det, als, args, rows_table, rec_table, agreement):
    import mercato.spark as mspark
    import pyspark.sql.functions as F
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable

    def session(master):
        s = (
            SparkSession.builder.master(master)
            .appName("mercato-scale-out")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "4g")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000")
            .getOrCreate()
        )
        s.sparkContext.setLogLevel("ERROR")
        return s

    def score_rows(spark, master):
        sizes = part_sizes(args.rows)
        schema = ", ".join(f"f{j} double" for j in range(FEATURES))
        parts = spark.sparkContext.parallelize(list(enumerate(sizes)), len(sizes))
        df = spark.createDataFrame(parts.flatMap(lambda a: gen_part(*a).itertuples(index=False)), schema).cache()
        df.count()
        t = best_of(3, lambda: mspark.score(det, df).agg(F.sum("score")).collect())

        def worker_rss(batches):
            # Spark reuses its Python workers: these are the processes that scored
            for _ in batches:
                pass
            yield pd.DataFrame({"pid": [os.getpid()], "mb": [peak_rss_mb()]})

        rss = df.mapInPandas(worker_rss, "pid long, mb double").toPandas()
        rows_table.append((f"Spark {master}", t, args.rows / t, rss["mb"].max(), float("nan")))
        df.unpersist()

    spark = session("local[1]")  # one executor core: the base of local[2]'s speed-up
    try:
        score_rows(spark, "local[1]")
    finally:
        spark.stop()
    spark = session("local[2]")
    try:
        score_rows(spark, "local[2]")

        users = spark.range(als.user_factors_.shape[0]).withColumnRenamed("id", "user").repartition(4).cache()
        users.count()
        t = best_of(1, lambda: mspark.recommend(als, users, N=10, filter_already_liked_items=False).count())
        rec_table.append(("mercato.spark, local[2]", t, float("nan")))

        with tempfile.TemporaryDirectory() as tmp:
            write_mllib_model(spark, als, os.path.join(tmp, "als"))
            model = ALSModel.load(os.path.join(tmp, "als"))
            recs = model.recommendForAllUsers(10)
            t = best_of(1, lambda: recs.write.mode("overwrite").parquet(os.path.join(tmp, "recs")))
            rec_table.append(("MLlib recommendForAllUsers, local[2]", t, float("nan")))
            got = spark.read.parquet(os.path.join(tmp, "recs")).toPandas()
        ours, _ = als.recommend(np.arange(als.user_factors_.shape[0]), N=10, filter_already_liked_items=False)
        same = sum(
            set(int(r["item"]) for r in row) == set(ours[int(u)].tolist())
            for u, row in zip(got["user"], got["recommendations"])
        )
        agreement.append((same, len(got)))
    finally:
        spark.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--factors", type=int, default=32)
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()

    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    det = fit_detector()
    als = als_model(args.users, args.items, args.factors)
    rows_table, rec_table, agreement = [], [], []

    x = pd.concat([gen_part(i, n) for i, n in enumerate(part_sizes(args.rows))]).to_numpy()
    det_1 = pickle_copy(det)
    det_1._fitted().set_num_threads(1)
    t1 = best_of(3, lambda: det_1.decision_function(x))
    tn = best_of(3, lambda: det.decision_function(x))
    rows_table.append(("one process, num_threads=1", t1, args.rows / t1, peak_rss_mb(), float("nan")))
    rows_table.append((f"one process, {os.cpu_count()} threads", tn, args.rows / tn, peak_rss_mb(), float("nan")))

    users = np.arange(args.users)
    t = best_of(1, lambda: als.recommend(users, N=10, filter_already_liked_items=False))
    rec_table.append((f"one process, {os.cpu_count()} threads", t, peak_rss_mb()))

    dask_runs(det, als, args, rows_table, rec_table)
    if not args.no_spark:
        spark_runs(det, als, args, rows_table, rec_table, agreement)

    print(f"\nScoring {args.rows:,} rows x {FEATURES} features, IsolationForest 100 trees "
          f"(load average now {os.getloadavg()[0]:.2f})")
    print("| engine | best s | rows/s | peak RSS MB per process | RSS growth MB while scoring |")
    print("|---|---|---|---|---|")
    for name, t, rps, rss, grow in rows_table:
        print(f"| {name} | {t:.3f} | {rps:,.0f} | {rss:.0f} | {grow:.0f} |")
    chunk = min(max(4 * 2**20 // 4 // args.items, 16), 1024)
    print(f"\nTop-10 for {args.users:,} users x {args.items:,} items, {args.factors} factors, no filtering")
    print(f"largest intermediate per task: one {chunk} x {args.items:,} float32 score chunk "
          f"({chunk * args.items * 4 / 2**20:.1f} MiB) per thread, plus the model "
          f"({(args.users + args.items) * args.factors * 4 / 2**20:.1f} MiB of factors) per worker")
    print("| engine | s | users/s | peak RSS MB per process |")
    print("|---|---|---|---|")
    for name, t, rss in rec_table:
        print(f"| {name} | {t:.3f} | {args.users / t:,.0f} | {rss:.0f} |")
    for same, n in agreement:
        print(f"\nMLlib vs mercato top-10 item sets equal for {same:,} of {n:,} users ({same / n:.2%})")


def pickle_copy(m):
    import pickle

    return pickle.loads(pickle.dumps(m))


if __name__ == "__main__":
    main()
