//! Model files of the hybrid kinds (HybridMF with or without features, ItemContent,
//! ImageFeatures): loading validates everything, and a model that loads serves without
//! panicking: predictions, top-N by index and by id, similar items, cold-start
//! representations from feature rows, image embeddings turned into item features.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::data::ExternalId;
use mercato::persist::Persist;
use mercato::recommend::hybrid::{Features, HybridMF, ImageFeatures, ItemContent};
use mercato::recommend::{Filter, IdRecommender, Rows};

/// Feature rows of `n_features` columns for two new rows (bounded by the file's width).
fn feature_rows(n_features: usize) -> Vec<Vec<(usize, f32)>> {
    if n_features == 0 {
        return vec![vec![], vec![]];
    }
    vec![vec![(0, 1.0)], vec![(n_features - 1, 0.5), (n_features / 2, 2.0)]]
}

fn serve_hybrid(m: &HybridMF) {
    let f = Filter::new().exclude_seen(true);
    let (nu, ni) = (m.n_users(), m.n_items());
    if nu > 0 && ni > 0 {
        if let Ok(p) = m.predict(&[0, nu - 1], &[ni - 1, 0]) {
            assert!(p.iter().all(|v| !v.is_nan()), "NaN prediction from a model that loaded");
        }
        let _ = m.recommend(&[0, nu - 1], 3, &f);
        let _ = m.similar_items(ni - 1, 2);
    }
    let _ = m.predict(&[nu], &[0]);
    let _ = m.recommend(&[nu], 2, &f);
    let _ = m.similar_items(ni, 2);
    for (space, users) in [(m.item_space().total(), false), (m.user_space().total(), true)] {
        if space <= 1 << 16 {
            if let Ok(x) = Features::from_rows(space, feature_rows(space)) {
                let r = if users { m.user_reprs(&x) } else { m.item_reprs(&x) };
                if let Ok(r) = r {
                    if !users && !r.is_empty() {
                        let _ = m.similar_to(r.embedding(0), m.known_item_reprs(), 2);
                    }
                }
            }
        }
    }
    let _ = m.recommend_ids(&ExternalId::Int(0), 2, &f);
    let _ = m.similar_items_ids(&ExternalId::Str("x".into()), 2);
}

fn serve_content(m: &ItemContent) {
    let (ni, nf) = (m.n_items(), m.n_features());
    if ni > 0 {
        let _ = m.similar_items(ni - 1, 2);
        let _ = m.similar_items(0, 3);
    }
    let _ = m.similar_items(ni, 2);
    if nf <= 1 << 16 {
        let triplets: Vec<(usize, usize, f32)> =
            feature_rows(nf).iter().enumerate().flat_map(|(r, row)| row.iter().map(move |&(c, v)| (r, c, v))).collect();
        if let Ok(rows) = Rows::from_triplets(2, nf, &triplets) {
            let _ = m.similar_to_features(&rows, 2);
            let _ = m.weigh(&rows);
        }
    }
    if ni > 0 && ni <= 1 << 16 {
        let history = Rows::from_triplets(2, ni, &[(0, 0, 1.0), (1, ni - 1, 2.0)]).expect("in range");
        let _ = m.recommend_rows(&history, 2, &Filter::new().exclude_seen(true));
        let mut out = vec![0.0; ni];
        let _ = m.score_profile(&[0], &[1.0], &mut out);
    }
}

fn serve_image_features(m: &ImageFeatures) {
    let d = m.dim();
    if d <= 1 << 16 {
        for fill in [0.0f32, 1.0, -3.0e38] {
            let emb = ndarray::Array2::from_elem((2, d), fill);
            if let Ok(f) = m.transform(emb.view()) {
                assert_eq!(f.n_cols(), m.n_features());
            }
        }
    }
    let _ = m.transform(ndarray::Array2::zeros((1, d + 1)).view());
}

fuzz_target!(|data: &[u8]| {
    for bytes in mercato_fuzz::variants(data) {
        if let Ok(m) = HybridMF::from_bytes(bytes.clone()) {
            serve_hybrid(&m);
        }
        if let Ok(m) = ItemContent::from_bytes(bytes.clone()) {
            serve_content(&m);
        }
        if let Ok(m) = ImageFeatures::from_bytes(bytes) {
            serve_image_features(&m);
        }
    }
});
