//! Recommenders: explicit ratings (baseline, matrix factorisation, kNN, truncated SVD) and
//! implicit feedback (ALS, BPR, item kNN), with top-N serving.
