//! `AnyModel::from_bytes`: any model file, dispatched on the kind in its header (seeds: one
//! file of every kind), then each role the model has: top-N by id, rating predictions,
//! detector scores, regression predictions; and saving it again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::data::ExternalId;
use mercato::fraud::Detector;
use mercato::recommend::Filter;
use mercato::AnyModel;

fuzz_target!(|data: &[u8]| {
    for bytes in mercato_fuzz::variants(data) {
        let Ok(m) = AnyModel::from_bytes(bytes) else { continue };
        let _ = m.kind();
        if let Some(r) = m.as_recommender() {
            let f = Filter::new().exclude_seen(true);
            if let Some(id) = r.user_ids().get_id(0) {
                let _ = r.recommend_ids(id, 3, &f);
            }
            if let Some(id) = r.item_ids().get_id(0) {
                let _ = r.similar_items_ids(id, 2);
            }
            let _ = r.recommend_ids(&ExternalId::Str("nobody".into()), 2, &f);
        }
        if let Some(p) = m.as_rating_predictor() {
            let _ = p.predict(&ExternalId::Int(1), &ExternalId::Int(1));
        }
        if let Some(d) = m.as_detector() {
            if let Some(n) = d.n_features().filter(|&n| n <= 1 << 16) {
                let _ = d.score_one(&vec![0.5; n]);
            }
        }
        if let Some(r) = m.as_regressor() {
            let n = r.coef().len();
            if n <= 1 << 12 {
                let _ = r.predict(&ndarray::Array2::<f64>::ones((1, n)).view());
            }
        }
        if let Some((rec, users, _)) = m.as_implicit() {
            if users.len() == rec.n_users() && rec.n_users() > 0 {
                let _ = rec.recommend(0, 2, &Filter::new());
            }
        }
        let _ = m.to_bytes();
    }
});
