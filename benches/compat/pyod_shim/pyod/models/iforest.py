from mercato.fraud import IsolationForest

from ._threads import dropped, num_threads


def IForest(
    n_estimators=100,
    max_samples="auto",
    contamination=0.1,
    max_features=1.0,
    bootstrap=False,
    n_jobs=1,
    behaviour="old",
    random_state=None,
    verbose=0,
):
    dropped(
        "IForest",
        dict(bootstrap=bootstrap, behaviour=behaviour, verbose=verbose),
        dict(bootstrap=False, behaviour="old", verbose=0),
    )
    return IsolationForest(
        n_estimators=n_estimators,
        max_samples=max_samples,
        contamination=contamination,
        max_features=max_features,
        seed=0 if random_state is None else random_state,
        num_threads=num_threads(n_jobs),
    )
