use super::*;
use crate::data::ExternalId;
use crate::recommend::Filter;
use crate::vision::DeviceChoice;
use crate::{AnyModel, Error};

/// Users walk a fixed cycle of 6 items from a random start, with a "view"/"buy" context that
/// alternates; the next item is fully determined by the current one.
fn cycle_data(users: usize, len: usize) -> Sequences {
    let (mut u, mut it, mut t, mut ctx) = (vec![], vec![], vec![], vec![]);
    for user in 0..users {
        // Events listed newest first: the order must come from the times.
        for step in (0..len).rev() {
            u.push(ExternalId::from(format!("u{user}")));
            it.push(ExternalId::from(((user * 7 + step) % 6) as i64 + 100));
            t.push(step as i64 * 60);
            ctx.push(ExternalId::from(if step % 2 == 0 { "view" } else { "buy" }));
        }
    }
    Sequences::from_events(&u, &it, &t, &[("event", &ctx)]).unwrap()
}

fn small(arch: SeqArch) -> SequentialParams {
    SequentialParams::default()
        .arch(arch)
        .factors(16)
        .layers(1)
        .max_len(8)
        .epochs(30)
        .batch_size(16)
        .learning_rate(5e-3)
        .patience(None)
        .device(DeviceChoice::Cpu)
        .num_threads(Some(1))
}

#[test]
fn sequences_order_by_time_and_split_last() {
    let users: Vec<ExternalId> = ["a", "b", "a", "a", "c"].map(Into::into).to_vec();
    let items: Vec<ExternalId> = [1, 2, 3, 4, 5].map(ExternalId::from).to_vec();
    let seqs = Sequences::from_events(&users, &items, &[30, 1, 10, 10, 0], &[]).unwrap();
    let a = seqs.users().index(&"a".into()).unwrap();
    let names = |s: &[u32]| s.iter().map(|&i| seqs.items().id(i as usize).clone()).collect::<Vec<_>>();
    // Ties (times 10, 10) keep input order.
    assert_eq!(names(seqs.sequence(a)), [3, 4, 1].map(ExternalId::from));
    let (train, targets) = seqs.leave_last_out();
    assert_eq!(names(train.sequence(a)), [3, 4].map(ExternalId::from));
    assert_eq!(targets[a].map(|t| seqs.items().id(t as usize).clone()), Some(ExternalId::from(1)));
    let c = seqs.users().index(&"c".into()).unwrap();
    assert_eq!(targets[c], None, "one-event users stay whole");
    assert_eq!(train.sequence(c).len(), 1);
}

#[test]
fn sequences_reject_bad_columns() {
    let u: Vec<ExternalId> = vec!["a".into(), "b".into()];
    assert!(matches!(Sequences::from_events(&u, &u[..1], &[0, 1], &[]), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(Sequences::from_events(&[], &[], &[], &[]), Err(Error::InvalidInput(_))));
    let ctx: Vec<ExternalId> = vec!["x".into()];
    assert!(matches!(Sequences::from_events(&u, &u, &[0, 1], &[("event", &ctx)]), Err(Error::ShapeMismatch { .. })));
}

/// After 103 → 104 the cycle's next item is 105: the model serves it first to a live session
/// it never saw, from what it learnt (not the popularity fallback).
fn assert_continues_the_cycle(model: &SequentialRecommender, case: &str) {
    let live = [103, 104].map(ExternalId::from);
    let recs = model.recommend_sequence(&live, &[vec!["view".into(), "buy".into()]], 1, true).unwrap();
    assert!(!recs.fallback, "{case}");
    assert_eq!(recs.items[0].0, ExternalId::from(105), "{case}: {:?}", recs.items);
}

#[test]
fn both_architectures_learn_a_cycle() {
    let data = cycle_data(30, 12);
    for arch in [SeqArch::Sasrec, SeqArch::Gru4rec] {
        let model = small(arch).fit(&data).unwrap();
        assert_continues_the_cycle(&model, &format!("{arch:?}"));
        let loss = &model.history().epochs;
        assert!(loss.last().unwrap().loss < loss[0].loss * 0.5, "{arch:?} loss did not fall: {loss:?}");
    }
}

#[test]
fn other_batchings_learn_a_cycle_are_deterministic_and_saved() {
    // Histories of 12 events and max_len 8: lanes read each history whole, windows in two,
    // prefixes one per target.
    let data = cycle_data(30, 12);
    // 30 users of 11 targets on 8 lanes: four rounds of 11 steps.
    assert_eq!(train::session_steps(&data, 8), 44);
    let users: Vec<usize> = (0..30).collect();
    for (arch, batching) in [
        (SeqArch::Gru4rec, SeqBatching::SessionParallel),
        (SeqArch::Sasrec, SeqBatching::Prefixes),
        (SeqArch::Gru4rec, SeqBatching::Prefixes),
    ] {
        let case = format!("{arch:?} {batching:?}");
        let p = small(arch).batching(batching).batch_size(8);
        let model = p.fit(&data).unwrap();
        assert_continues_the_cycle(&model, &case);
        let loss = &model.history().epochs;
        assert!(loss.last().unwrap().loss < loss[0].loss * 0.5, "{case}: loss did not fall: {loss:?}");
        let again = p.fit(&data).unwrap();
        assert_eq!(model.user_scores(&users).unwrap(), again.user_scores(&users).unwrap(), "{case}");
        let windows = small(arch).batch_size(8).fit(&data).unwrap();
        assert_ne!(model.user_scores(&users).unwrap(), windows.user_scores(&users).unwrap(), "{case}");
        // The choice is saved with the model.
        let loaded = SequentialRecommender::from_bytes_on(model.to_bytes().unwrap(), DeviceChoice::Cpu).unwrap();
        assert_eq!(loaded.params().batching, batching, "{case}");
    }
}

#[test]
fn bce_loss_learns_too() {
    let data = cycle_data(30, 12);
    let model = small(SeqArch::Sasrec).loss(SeqLoss::Bce).negatives(4).epochs(40).fit(&data).unwrap();
    let recs =
        model.recommend_sequence(&[100.into(), 101.into()], &[vec!["view".into(), "buy".into()]], 1, true).unwrap();
    assert_eq!(recs.items[0].0, ExternalId::from(102));
}

#[test]
fn same_seed_same_model_and_file_round_trip() {
    let data = cycle_data(12, 10);
    let p = small(SeqArch::Sasrec).epochs(3);
    let a = p.fit(&data).unwrap();
    let b = p.fit(&data).unwrap();
    let c = p.clone().seed(1).fit(&data).unwrap();
    let users: Vec<usize> = (0..12).collect();
    let (sa, sb, sc) = (a.user_scores(&users).unwrap(), b.user_scores(&users).unwrap(), c.user_scores(&users).unwrap());
    assert_eq!(sa, sb, "same seed, same thread count: identical scores");
    assert_ne!(sa, sc, "another seed changes the model");
    let loaded = SequentialRecommender::from_bytes_on(a.to_bytes().unwrap(), DeviceChoice::Cpu).unwrap();
    assert_eq!(loaded.user_scores(&users).unwrap(), sa);
    assert_eq!(loaded.history(), a.history());
    // Through the model handle: kind, recommender role, bytes.
    let any = AnyModel::from_bytes(a.to_bytes().unwrap()).unwrap();
    assert_eq!(any.kind(), KIND_SASREC);
    let rec = any.as_recommender().expect("recommends by id");
    let user: ExternalId = "u3".into();
    assert_eq!(
        rec.recommend_ids(&user, 3, &Filter::new().exclude_seen(true)).unwrap().items,
        a.recommend(&user, 3, true).unwrap()
    );
    assert!(matches!(rec.recommend_ids(&"nobody".into(), 3, &Filter::new()), Err(Error::UnknownId { .. })));
    assert_eq!(rec.similar_items_ids(&100.into(), 2).unwrap()[0].0, ExternalId::from(100));
}

#[test]
fn tampered_or_foreign_files_are_format_errors() {
    let data = cycle_data(6, 6);
    let model = small(SeqArch::Gru4rec).epochs(1).fit(&data).unwrap();
    let bytes = model.to_bytes().unwrap();
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(matches!(SequentialRecommender::from_bytes(flipped), Err(Error::ModelFormat(_))));
    assert!(matches!(SequentialRecommender::from_bytes(bytes[..bytes.len() / 3].to_vec()), Err(Error::ModelFormat(_))));
    let als = crate::recommend::AlsParams::default()
        .factors(2)
        .fit(&crate::data::Interactions::from_triples([("a", "x", 1.0)], crate::data::DuplicatePolicy::Sum).unwrap())
        .unwrap();
    let err = SequentialRecommender::from_bytes(crate::persist::Persist::to_bytes(&als).unwrap()).unwrap_err();
    assert!(err.to_string().contains("expected a sequential recommender"), "{err}");
}

#[test]
fn live_sessions_unknown_items_and_bad_requests() {
    let data = cycle_data(10, 8);
    let model = small(SeqArch::Sasrec).epochs(2).fit(&data).unwrap();
    let ctx = |n: usize| vec![vec![ExternalId::from("view"); n]];
    // Only unknown items: the popularity ranking, flagged.
    let recs = model.recommend_sequence(&["new-sku".into()], &ctx(1), 3, true).unwrap();
    assert!(recs.fallback);
    assert_eq!(recs.items.len(), 3);
    // An unknown context value is read as "no context", not an error.
    let odd = vec![vec![ExternalId::from("wishlist")]];
    assert!(!model.recommend_sequence(&[101.into()], &odd, 3, true).unwrap().fallback);
    // Exclusion of the session's own items.
    let recs = model.recommend_sequence(&[101.into(), 102.into()], &ctx(2), 6, true).unwrap();
    assert_eq!(recs.items.len(), 4);
    assert!(recs.items.iter().all(|(i, _)| *i != ExternalId::from(101) && *i != ExternalId::from(102)));
    // Wrong context shapes.
    assert!(matches!(model.recommend_sequence(&[101.into()], &[], 3, true), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(model.recommend_sequence(&[101.into()], &ctx(2), 3, true), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn parameters_and_degenerate_data_are_checked() {
    use crate::params::Params;
    let e = SequentialParams::default().factors(64).heads(3).check().unwrap_err();
    assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "heads"), "{e}");
    let e = SequentialParams::sasrec().batching(SeqBatching::SessionParallel).check().unwrap_err();
    assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "batching"), "{e}");
    let e = SequentialParams::default().dropout(1.0).check().unwrap_err();
    assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "dropout"));
    let e = SequentialParams::from_json(r#"{"max_len": 1}"#).unwrap_err();
    assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "max_len"));
    for stride in [0, 9] {
        let e = SequentialParams::default().max_len(8).stride(Some(stride)).check().unwrap_err();
        assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "stride"), "{e}");
    }
    assert_eq!(SequentialParams::default().max_len(7).window_stride(), 4, "default: half, rounded up");
    // Session-parallel lanes read whole histories: a stride there would be ignored.
    let lanes = SequentialParams::gru4rec().batching(SeqBatching::SessionParallel);
    let e = lanes.clone().stride(Some(5)).check().unwrap_err();
    assert!(
        matches!(&e, Error::InvalidParameter { name, message } if name == "stride" && message.contains("got 5")),
        "{e}"
    );
    lanes.check().unwrap();
    let prefixes = SequentialParams::sasrec().batching(SeqBatching::Prefixes);
    let e = prefixes.clone().stride(Some(5)).check().unwrap_err();
    assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "stride"), "{e}");
    prefixes.check().unwrap();
    // Every user has one event: there is no order to learn.
    let u: Vec<ExternalId> = (0..4).map(ExternalId::from).collect();
    let single = Sequences::from_events(&u, &u, &[0, 0, 0, 0], &[]).unwrap();
    assert!(matches!(small(SeqArch::Sasrec).fit(&single), Err(Error::InvalidInput(_))));
    assert!(matches!(small(SeqArch::Sasrec).patience(Some(2)).fit(&single), Err(Error::InvalidInput(_))));
    // A learning rate that diverges is an error, not a NaN model.
    let data = cycle_data(10, 8);
    let e = small(SeqArch::Gru4rec).learning_rate(1e6).epochs(5).fit(&data);
    assert!(e.is_err() || e.unwrap().user_scores(&[0]).unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let data = cycle_data(30, 12);
    let model = small(SeqArch::Sasrec).epochs(25).patience(Some(3)).fit(&data).unwrap();
    let h = model.history();
    let best = h.best_epoch.expect("validation ran");
    let best_ndcg = h.epochs[best - 1].val_ndcg.unwrap();
    assert!(h.epochs.iter().all(|e| e.val_ndcg.unwrap() <= best_ndcg));
    assert!(best_ndcg > 0.9, "the cycle is learnable: {best_ndcg}");
    // The model serves from every event, the held-out ones included.
    assert_eq!(model.sequences().n_events(), data.n_events());
}

#[test]
fn cuda_agrees_with_the_cpu_or_is_refused_by_name() {
    let data = cycle_data(30, 12);
    let users: Vec<usize> = (0..30).collect();
    let cpu = small(SeqArch::Sasrec).epochs(2).fit(&data).unwrap();
    let cuda = DeviceChoice::Cuda(0);
    if !tch::Cuda::is_available() {
        // A GPU asked for by name and missing is an error, never a silent CPU run.
        for arch in [SeqArch::Sasrec, SeqArch::Gru4rec] {
            assert!(matches!(small(arch).device(cuda).fit(&data), Err(Error::InvalidInput(_))), "{arch:?}");
        }
        let e = SequentialRecommender::from_bytes_on(cpu.to_bytes().unwrap(), cuda).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("CUDA device 0")), "{e}");
        eprintln!("no CUDA device: only the refusal half of this test ran");
        return;
    }
    let close = |a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>, what: &str| {
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-3, "{what}: CPU and CUDA scores differ by {worst}");
    };
    // The same weights score alike on either device, both ways.
    let on_gpu = SequentialRecommender::from_bytes_on(cpu.to_bytes().unwrap(), cuda).unwrap();
    assert_eq!(on_gpu.device(), tch::Device::Cuda(0));
    close(&cpu.user_scores(&users).unwrap(), &on_gpu.user_scores(&users).unwrap(), "CPU-trained");
    for arch in [SeqArch::Sasrec, SeqArch::Gru4rec] {
        // Trained on the GPU (its own dropout draws), each network learns the cycle as on the CPU.
        let gpu = small(arch).device(cuda).fit(&data).unwrap();
        assert!(gpu.history().device.starts_with("Cuda"), "{arch:?}: {}", gpu.history().device);
        assert_continues_the_cycle(&gpu, &format!("{arch:?} on CUDA"));
        let back = SequentialRecommender::from_bytes_on(gpu.to_bytes().unwrap(), DeviceChoice::Cpu).unwrap();
        close(&gpu.user_scores(&users).unwrap(), &back.user_scores(&users).unwrap(), "CUDA-trained");
    }
}
