//! Fraud scoring: unsupervised anomaly detectors, ensembles, thresholds and explanations.
