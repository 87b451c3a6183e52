//! Model files of every recommender kind (ALS, BPR, item kNN, baseline, kNN, FunkSVD,
//! SVD++, truncated SVD): loading validates everything, and a model that loads serves
//! without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::data::ExternalId;
use mercato::persist::Persist;
use mercato::recommend::{
    Als, Baseline, Bpr, Filter, FunkSVD, ItemKnn, RatingPredictor, Recommender, SVDpp, TruncatedSvd, KNN,
};

fn serve(m: &dyn Recommender) {
    let f = Filter::new().exclude_seen(true);
    if m.n_users() > 0 {
        let _ = m.recommend(0, 3, &f);
        let _ = m.recommend_batch(&[0, m.n_users() - 1], 2, &f);
        let _ = m.similar_users(0, 2);
    }
    if m.n_items() > 0 {
        let _ = m.similar_items(m.n_items() - 1, 2);
        let _ = m.recommend_row(&[0], &[1.0], 2, &f);
    }
    let _ = m.recommend_row(&[], &[], 2, &f);
}

fn rate(m: &dyn RatingPredictor) {
    let p = m.predict(&ExternalId::Int(1), &ExternalId::Int(1));
    assert!(!p.value.is_nan(), "NaN prediction from a model that loaded");
    let _ = m.predict(&ExternalId::Str("x".into()), &ExternalId::Int(0));
}

fuzz_target!(|data: &[u8]| {
    for bytes in mercato_fuzz::variants(data) {
        if let Ok(m) = Als::from_bytes(bytes.clone()) {
            serve(&m);
        }
        if let Ok(m) = Bpr::from_bytes(bytes.clone()) {
            serve(&m);
        }
        if let Ok(m) = ItemKnn::from_bytes(bytes.clone()) {
            serve(&m);
        }
        if let Ok(m) = Baseline::from_bytes(bytes.clone()) {
            rate(&m);
        }
        if let Ok(m) = KNN::from_bytes(bytes.clone()) {
            rate(&m);
        }
        if let Ok(m) = FunkSVD::from_bytes(bytes.clone()) {
            rate(&m);
        }
        if let Ok(m) = SVDpp::from_bytes(bytes.clone()) {
            rate(&m);
        }
        if let Ok(m) = TruncatedSvd::from_bytes(bytes) {
            let _ = m.predict(&ExternalId::Int(0), &ExternalId::Int(0));
            let _ = m.recommend(&ExternalId::Int(0), 3, &Filter::new());
        }
    }
});
