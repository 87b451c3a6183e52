//! Regression tests for issue 14: degenerate training data, parameters that cannot train,
//! bounded growth of partial fits and diverging SGD all give a typed error, never a panic,
//! a huge allocation or a silently useless model.

use super::*;
use crate::Error;

fn tiny() -> Rows {
    Rows::from_triplets(3, 4, &[(0, 0, 1.0), (0, 1, 2.0), (1, 1, 1.0), (1, 2, 3.0), (2, 3, 1.0), (2, 0, 1.0)]).unwrap()
}

fn fits(rows: &Rows) -> [Result<()>; 3] {
    [
        Als::params().factors(4).iterations(2).fit_rows(rows).map(|_| ()),
        Bpr::params().factors(4).iterations(2).fit_rows(rows).map(|_| ()),
        ItemKnn::params().k(3).fit_rows(rows).map(|_| ()),
    ]
}

#[test]
fn empty_or_all_zero_training_data_is_rejected_by_every_model() {
    let all_zero = Rows::from_triplets(3, 4, &[(0, 1, 0.0), (2, 3, 0.0)]).unwrap();
    for (what, rows) in
        [("5x0", Rows::empty(5, 0)), ("0x0", Rows::empty(0, 0)), ("0x5", Rows::empty(0, 5)), ("zeros", all_zero)]
    {
        for r in fits(&rows) {
            match r {
                Err(Error::InvalidInput(m)) => assert!(m.contains("cannot fit"), "{what}: {m}"),
                other => panic!("{what}: expected InvalidInput, got {other:?}"),
            }
        }
    }
    // a single positive is enough to train
    for r in fits(&Rows::from_triplets(1, 1, &[(0, 0, 1.0)]).unwrap()) {
        r.unwrap();
    }
}

#[test]
fn zero_iterations_is_rejected() {
    let rows = tiny();
    for r in [
        Als::params().iterations(0).fit_rows(&rows).map(|_| ()),
        Bpr::params().iterations(0).fit_rows(&rows).map(|_| ()),
    ] {
        assert!(matches!(&r, Err(Error::InvalidParameter { name, .. }) if name == "iterations"), "{r:?}");
    }
}

#[test]
fn partial_fits_append_and_never_grow_to_a_typed_index() {
    let mut als = Als::params().factors(4).iterations(3).fit_rows(&tiny()).unwrap();
    let row = Rows::from_triplets(1, 4, &[(0, 2, 1.0)]).unwrap();
    // 3 users and 4 items: the next free indices are 3 and 4, anything past them is a gap
    for far in [5usize, 1_000_000, 1_000_000_000, usize::MAX] {
        let r = als.partial_fit_users(&[far], &row);
        assert!(matches!(&r, Err(Error::InvalidInput(m)) if m.contains("past the end")), "{far}: {r:?}");
        let r = als.partial_fit_items(&[far], &Rows::from_triplets(1, 3, &[(0, 1, 1.0)]).unwrap());
        assert!(matches!(r, Err(Error::InvalidInput(_))), "{far}");
    }
    assert!(als.partial_fit_users(&[4], &row).is_err(), "user 4 would leave user 3 without a row");
    assert_eq!((als.n_users(), als.n_items()), (3, 4), "a rejected call changes nothing");
    assert_eq!(als.user_factors().len(), 3 * 4);
    // two new users in any order plus an existing one: the model grows by exactly two
    let rows = Rows::from_triplets(3, 4, &[(0, 0, 1.0), (1, 1, 1.0), (2, 2, 1.0)]).unwrap();
    als.partial_fit_users(&[4, 1, 3], &rows).unwrap();
    assert_eq!(als.n_users(), 5);
    assert_eq!(als.rows().row(4).0, &[0]);
    assert_eq!(als.rows().row(3).0, &[2]);
    // a gap after a valid new id is still a gap
    assert!(als.partial_fit_users(&[5, 7], &Rows::empty(2, 4)).is_err());
    assert_eq!(als.n_users(), 5);
}

#[test]
fn diverging_bpr_is_a_typed_error_not_nan_factors() {
    let rows =
        Rows::from_triplets(40, 8, &(0..40).flat_map(|u| [(u, u % 4, 1.0), (u, 4 + u % 4, 1.0)]).collect::<Vec<_>>())
            .unwrap();
    // a step so large that the first updates overflow f32: must be the typed error
    let r = Bpr::params().factors(8).iterations(5).learning_rate(1e30).fit_rows(&rows);
    match r {
        Err(Error::InvalidInput(m)) => assert!(m.contains("diverged") && m.contains("learning_rate"), "{m}"),
        other => panic!("expected the divergence error, got {other:?}"),
    }
    // the learning_rate = 10 (defaults otherwise): the error, or finite factors
    for seed in 0..3 {
        match Bpr::params().learning_rate(10.0).seed(seed).fit_rows(&rows) {
            Err(Error::InvalidInput(m)) => assert!(m.contains("diverged"), "{m}"),
            Ok(m) => assert!(m.user_factors().iter().chain(m.item_factors()).all(|v| v.is_finite())),
            Err(e) => panic!("wrong error type: {e:?}"),
        }
    }
    // a sane rate on the same data trains to finite factors
    let ok = Bpr::params().factors(8).iterations(50).learning_rate(0.05).fit_rows(&rows).unwrap();
    assert!(ok.item_factors().iter().all(|v| v.is_finite()));
}

#[test]
fn similar_items_needs_trained_users() {
    // ALS on zero users used to report ~0.97 similarities from random initial factors; now
    // there is no such model
    let r = Als::params().factors(4).iterations(2).fit_rows(&Rows::empty(0, 5));
    assert!(matches!(r, Err(Error::InvalidInput(_))));
}

#[test]
fn supplied_rows_must_have_the_models_columns() {
    let rows = tiny();
    let als = Als::params().factors(4).iterations(2).fit_rows(&rows).unwrap();
    let narrow = Rows::from_triplets(1, 3, &[(0, 1, 1.0)]).unwrap();
    let r = als.recommend_batch_chunked(&[0], Some(&narrow), 2, &Filter::new(), 16);
    assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    let mut als = als;
    assert!(matches!(als.partial_fit_users(&[0], &narrow), Err(Error::ShapeMismatch { .. })));
    let exact = Rows::from_triplets(1, 4, &[(0, 1, 1.0)]).unwrap();
    assert_eq!(als.recommend_batch_chunked(&[0], Some(&exact), 2, &Filter::new(), 16).unwrap().len(), 1);
}
