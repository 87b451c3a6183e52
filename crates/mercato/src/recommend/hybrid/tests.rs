use super::*;
use crate::data::{DuplicatePolicy, Interactions};
use crate::params::Params;
use crate::persist::Persist;
use crate::recommend::Filter;
use crate::Error;

/// 120 users × 90 items in 3 taste groups; item feature = its group (plus a noise feature
/// shared by all), user feature = the user's group.
fn toy() -> (Interactions, Features, Features) {
    let mut events = Vec::new();
    for u in 0..120u32 {
        for i in 0..90u32 {
            if i % 3 == u % 3 && (u * 7 + i * 13) % 5 < 3 {
                events.push((u, i, 1.0));
            }
        }
    }
    let data = Interactions::from_triples(events, DuplicatePolicy::Error).unwrap();
    // from_triples keeps first-seen order of ids; map back to the numeric ids.
    let item_group = |idx: usize| data.items().id(idx).to_string().parse::<usize>().unwrap() % 3;
    let user_group = |idx: usize| data.users().id(idx).to_string().parse::<usize>().unwrap() % 3;
    let items = Features::from_rows(4, (0..data.n_items()).map(|i| vec![(item_group(i), 1.0), (3, 0.5)])).unwrap();
    let users = Features::from_rows(3, (0..data.n_users()).map(|u| vec![(user_group(u), 1.0)])).unwrap();
    (data, users, items)
}

/// Share of each user's top 5 (seen items excluded) from the user's own taste group.
fn own_group_share(m: &HybridMF, data: &Interactions) -> f64 {
    let group = |ids: &crate::data::IdMap, r: usize| ids.id(r).to_string().parse::<usize>().unwrap() % 3;
    let recs = m.recommend(&(0..data.n_users()).collect::<Vec<_>>(), 5, &Filter::new().exclude_seen(true)).unwrap();
    let hits: usize = recs
        .iter()
        .enumerate()
        .map(|(u, r)| r.iter().filter(|&&(i, _)| group(data.items(), i) == group(data.users(), u)).count())
        .sum();
    hits as f64 / (5 * data.n_users()) as f64
}

fn params() -> HybridMFParams {
    HybridMFParams::default().factors(8).epochs(8).seed(3)
}

#[test]
fn thread_count_never_changes_the_model() {
    let (data, uf, itf) = toy();
    for loss in [Loss::Warp, Loss::Bpr, Loss::Logistic, Loss::WarpKos] {
        // A 3 × 3 grid with shared features (the noise column, the user groups) crossing blocks.
        let p = params().loss(loss).blocks(Some(3));
        let fits: Vec<_> = [1, 2, 3]
            .iter()
            .map(|&t| p.clone().num_threads(Some(t)).fit(&data, Some(&uf), Some(&itf)).unwrap())
            .collect();
        for f in &fits[1..] {
            assert!(f.users == fits[0].users, "{loss:?}");
            assert!(f.items == fits[0].items, "{loss:?}");
        }
        let other_seed = p.clone().seed(4).fit(&data, Some(&uf), Some(&itf)).unwrap();
        assert!(other_seed.items != fits[0].items);
    }
}

#[test]
fn learns_groups_and_ranks_cold_items() {
    let (data, uf, itf) = toy();
    let m = params().epochs(15).fit(&data, Some(&uf), Some(&itf)).unwrap();
    let group = |u: usize| data.users().id(u).to_string().parse::<usize>().unwrap() % 3;
    let igroup = |i: usize| data.items().id(i).to_string().parse::<usize>().unwrap() % 3;
    assert!(own_group_share(&m, &data) > 0.9);
    let recs = m.recommend(&(0..data.n_users()).collect::<Vec<_>>(), 5, &Filter::new().exclude_seen(true)).unwrap();
    for (u, r) in recs.iter().enumerate() {
        assert!(r.iter().all(|&(i, _)| data.value(u, i).is_none()), "seen items are excluded");
    }
    // New items known only by their group feature: each user's own group ranks first.
    let new = Features::from_rows(4, (0..3).map(|g| vec![(g, 1.0), (3, 0.5)])).unwrap();
    let reprs = m.item_reprs(&new).unwrap();
    let top = m.recommend_reprs(m.known_user_reprs(), &[0, 1, 2, 3], &reprs, 1, &Filter::new(), None).unwrap();
    for (u, t) in [0, 1, 2, 3].iter().zip(&top) {
        assert_eq!(t[0].0, group(*u));
    }
    // New users known only by their group.
    let nu = m.user_reprs(&Features::from_rows(3, [vec![(1, 1.0)]]).unwrap()).unwrap();
    let top = m.recommend_reprs(&nu, &[0], m.known_item_reprs(), 10, &Filter::new(), None).unwrap();
    assert!(top[0].iter().all(|&(i, _)| igroup(i) == 1));
    let sim = m.similar_items(0, 5).unwrap();
    assert!(sim.iter().all(|&(i, _)| i != 0 && igroup(i) == igroup(0)));
    let p = m.predict(&[0, 0], &[0, 1]).unwrap();
    assert_eq!(p.len(), 2);
}

#[test]
fn partial_fit_continues_exactly() {
    let (data, uf, itf) = toy();
    let whole = params().epochs(6).fit(&data, Some(&uf), Some(&itf)).unwrap();
    let part = params().epochs(4).fit(&data, Some(&uf), Some(&itf)).unwrap().partial_fit(&data, 2).unwrap();
    assert!(whole.items == part.items && whole.users == part.users);
    assert_eq!(part.epochs_done(), 6);
}

#[test]
fn pure_cf_and_features_only() {
    let (data, uf, itf) = toy();
    let cf = params().fit(&data, None, None).unwrap();
    assert_eq!(cf.item_space().total(), data.n_items());
    let fo = params().item_identity(false).user_identity(false).fit(&data, Some(&uf), Some(&itf)).unwrap();
    assert_eq!(fo.item_space().total(), 4);
    assert!(params().user_identity(false).fit(&data, None, None).is_err(), "users without any feature");
}

#[test]
fn round_trips_through_the_file_format() {
    let (data, uf, itf) = toy();
    let mut m = params().fit(&data, Some(&uf), Some(&itf)).unwrap();
    m.set_feature_names(
        vec!["a".into(), "b".into(), "c".into()],
        vec!["g0".into(), "g1".into(), "g2".into(), "x".into()],
    )
    .unwrap();
    let back = HybridMF::from_bytes(m.to_bytes().unwrap()).unwrap();
    assert_eq!(back.predict(&[1, 2], &[3, 4]).unwrap(), m.predict(&[1, 2], &[3, 4]).unwrap());
    assert_eq!(back.item_space(), m.item_space());
    assert_eq!(
        back.recommend(&[5], 4, &Filter::new().exclude_seen(true)).unwrap(),
        m.recommend(&[5], 4, &Filter::new().exclude_seen(true)).unwrap()
    );
    let mut bytes = m.to_bytes().unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 1;
    assert!(matches!(HybridMF::from_bytes(bytes), Err(Error::ModelFormat(_))));
}

#[test]
fn bad_input_is_a_typed_error() {
    let (data, uf, itf) = toy();
    let short = Features::from_rows(4, [vec![(0, 1.0)]]).unwrap();
    assert!(matches!(params().fit(&data, None, Some(&short)), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(params().fit(&data, Some(&short), None), Err(Error::ShapeMismatch { .. })));
    assert!(Features::from_rows(4, [vec![(0, f32::NAN)]]).is_err());
    assert!(Features::from_rows(4, [vec![(0, -1.0)]]).is_err());
    assert!(params().factors(0).fit(&data, None, None).unwrap_err().to_string().contains("`factors`"));
    assert!(params().learning_rate(f32::NAN).check().is_err());
    assert!(params().num_threads(Some(0)).check().is_err());
    let mut m = params().fit(&data, Some(&uf), Some(&itf)).unwrap();
    assert!(m.item_reprs(&short).is_ok());
    assert!(matches!(m.user_reprs(&short), Err(Error::ShapeMismatch { .. })));
    assert!(m.predict(&[0], &[10_000]).is_err());
    assert!(m.recommend(&[10_000], 3, &Filter::new()).is_err());
    assert!(m.recommend(&[0], 0, &Filter::new()).is_err());
    assert!(m.set_feature_names(vec![], vec!["only one".into()]).is_err());
    m.set_feature_names(vec![], vec!["g0".into(), "g1".into(), "g2".into(), "x".into()]).unwrap();
    assert!(matches!(m.item_space().encode([vec![("nope", 1.0)]]), Err(Error::UnknownId { .. })));
    let enc = m.item_space().encode([vec![("g1", 1.0)], vec![]]).unwrap();
    assert_eq!(enc.n_rows(), 2);
    let empty = Interactions::from_triples([(0u32, 0u32, 0.0f32)], DuplicatePolicy::Error).unwrap();
    assert!(params().fit(&empty, None, None).is_err(), "no positives");
}

#[test]
fn serves_training_users_and_items_by_id() {
    use crate::data::ExternalId;
    use crate::recommend::IdRecommender;
    use crate::AnyModel;

    let (data, uf, itf) = toy();
    let model = params().fit(&data, Some(&uf), Some(&itf)).unwrap();
    let filter = Filter::new().exclude_seen(true);
    let user = data.users().id(5).clone();
    let by_id = model.recommend_ids(&user, 5, &filter).unwrap();
    let by_index = model.recommend(&[5], 5, &filter).unwrap().remove(0);
    assert!(!by_id.fallback);
    assert_eq!(by_id.items.len(), 5);
    for ((id, s), (i, t)) in by_id.items.iter().zip(&by_index) {
        assert_eq!(id, data.items().id(*i));
        assert_eq!(s, t);
    }
    // similar items by id start with the item itself (the IdRecommender contract)
    let item = data.items().id(0).clone();
    let similar = model.similar_items_ids(&item, 4).unwrap();
    assert_eq!(similar[0].0, item);
    assert!(matches!(model.recommend_ids(&ExternalId::Str("nobody".into()), 3, &filter), Err(Error::UnknownId { .. })));
    // through the model handle, as `mercato serve` loads it
    let any = AnyModel::from_bytes(model.to_bytes().unwrap()).unwrap();
    let served = any.as_recommender().expect("HybridMF serves by id");
    assert_eq!(served.recommend_ids(&user, 5, &filter).unwrap(), by_id);
}

#[test]
fn overflowing_scores_are_refused_not_served() {
    let (data, uf, itf) = toy();
    // Training that blows the embeddings up raises instead of serving NaN scores.
    let diverged = params().learning_rate(1e30).fit(&data, Some(&uf), Some(&itf));
    assert!(matches!(diverged, Err(Error::InvalidInput(ref m)) if m.contains("diverged")), "{diverged:?}");
    let m = params().fit(&data, Some(&uf), Some(&itf)).unwrap();
    // Finite feature weights whose representation would score past f32::MAX.
    let huge = Features::from_rows(4, [vec![(0, f32::MAX), (3, f32::MAX)], vec![(1, 1.0)]]).unwrap();
    assert!(matches!(m.item_reprs(&huge), Err(Error::InvalidInput(_))));
    let fine = m.item_reprs(&Features::from_rows(4, [vec![(0, 1e3)]]).unwrap()).unwrap();
    assert!(m.score_reprs(m.known_user_reprs(), &[0], &fine, &[0]).unwrap()[0].is_finite());
    // Cosine similarity of a large but finite query stays finite (norms in f64).
    let q = vec![1e30f32; m.hyper_params().factors];
    assert!(m.similar_to(&q, m.known_item_reprs(), 3).unwrap().iter().all(|(_, s)| s.is_finite()));
    assert!(m.similar_to(&vec![f32::INFINITY; q.len()], m.known_item_reprs(), 3).is_err());
}

#[test]
fn adadelta_learns_is_thread_invariant_continues_and_round_trips() {
    let (data, uf, itf) = toy();
    let p = params().schedule(Schedule::Adadelta).epochs(15).blocks(Some(3));
    let m = p.clone().num_threads(Some(1)).fit(&data, Some(&uf), Some(&itf)).unwrap();
    // the same groups as Adagrad's test: each user's top 5 from its own group
    let share = own_group_share(&m, &data);
    assert!(share > 0.9, "{share}");
    // learning_rate is not used by Adadelta; the optimiser state is twice Adagrad's
    let other_lr = p.clone().learning_rate(0.5).num_threads(Some(1)).fit(&data, Some(&uf), Some(&itf)).unwrap();
    assert!(other_lr.items == m.items);
    assert_eq!(m.items.acc.len(), 2 * m.items.rows.len());
    let adagrad = params().epochs(15).blocks(Some(3)).fit(&data, Some(&uf), Some(&itf)).unwrap();
    assert!(adagrad.items != m.items);
    // any thread count, partial_fit, save and load
    let threads = p.clone().num_threads(Some(3)).fit(&data, Some(&uf), Some(&itf)).unwrap();
    assert!(threads.items == m.items && threads.users == m.users);
    let part = p.clone().epochs(10).fit(&data, Some(&uf), Some(&itf)).unwrap().partial_fit(&data, 5).unwrap();
    assert!(part.items == m.items && part.users == m.users);
    let back = HybridMF::from_bytes(m.to_bytes().unwrap()).unwrap();
    assert!(back.items == m.items && back.hyper_params() == m.hyper_params());
    assert!(matches!(params().rho(1.0).check(), Err(Error::InvalidParameter { ref name, .. }) if name == "rho"));
    assert!(
        matches!(params().epsilon(0.0).check(), Err(Error::InvalidParameter { ref name, .. }) if name == "epsilon")
    );
}
