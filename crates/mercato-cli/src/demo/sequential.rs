//! Demo step: next-item recommendation from the order of events. SASRec on generated
//! shopping sessions (browse → compare → buy → accessories) against ALS and popularity,
//! leave-last-out, full ranking.

use mercato::data::synth_sessions::{sessions, SessionConfig};
use mercato::data::{DuplicatePolicy, ExternalId, Interactions};
use mercato::recommend::sequential::{next_item_rank, Sequences, SequentialParams};
use mercato::recommend::AlsParams;
use mercato::Result;

use super::{timed, Step};
use crate::report::{self, Report};

/// Users in the demo's session log (the bench uses 2000).
const USERS: usize = 1000;

/// HR@10 and NDCG@10 of one user's `target` (full ranking, training history masked).
fn hit_ndcg(scores: &[f32], history: &[u32], target: usize) -> (f64, f64) {
    let rank = next_item_rank(scores, history, target);
    if rank < 10 {
        (1.0, 1.0 / ((rank + 2) as f64).log2())
    } else {
        (0.0, 0.0)
    }
}

pub fn run(report: &mut Report) -> Result<()> {
    let _s = Step::start("Sequential recommendation: the next item from the order of events (SASRec)");
    let log = sessions(&SessionConfig { n_users: USERS, ..Default::default() });
    let users: Vec<ExternalId> = log.iter().map(|e| ExternalId::Int(e.user as i64)).collect();
    let items: Vec<ExternalId> = log.iter().map(|e| ExternalId::from(e.item.as_str())).collect();
    let times: Vec<i64> = log.iter().map(|e| e.time).collect();
    let events: Vec<ExternalId> = log.iter().map(|e| ExternalId::from(e.event)).collect();
    let all = Sequences::from_events(&users, &items, &times, &[("event", &events)])?;
    let (train, targets) = all.leave_last_out();
    println!(
        "   {} sessions' events of {} users on {} products (browse → compare → buy → accessories); \
         each user's last event is the test target",
        log.len(),
        all.users().len(),
        all.items().len()
    );

    // A higher step than the default 1e-3 so the demo converges in 25 epochs.
    let params = SequentialParams::sasrec().epochs(25).learning_rate(3e-3).patience(Some(5));
    let (model, fit_s) = timed(|| params.fit(&train))?;
    let h = model.history();
    println!(
        "   SASRec: {} epochs (best {}), {:.2} s/epoch on {}, {fit_s:.1} s in all",
        h.epochs.len(),
        h.best_epoch.unwrap_or(h.epochs.len()),
        h.seconds_per_epoch,
        h.device
    );

    // ALS (order-free) on the same training events, sharing the sequences' id spaces.
    let n_users = train.users().len();
    let entries: Vec<(u32, u32, f32)> =
        (0..n_users).flat_map(|u| train.sequence(u).iter().map(move |&i| (u as u32, i, 1.0))).collect();
    let matrix =
        Interactions::from_indexed(train.users().clone(), train.items().clone(), entries, DuplicatePolicy::Sum)?;
    let (als, als_s) = timed(|| AlsParams::default().factors(64).regularization(1.0).seed(0).fit(&matrix))?;
    let k = als.factors();
    let n_items = train.items().len();
    let mut popularity = vec![0f32; n_items];
    for u in 0..n_users {
        for &i in train.sequence(u) {
            popularity[i as usize] += 1.0;
        }
    }

    let tested: Vec<usize> = (0..n_users).filter(|&u| targets[u].is_some()).collect();
    let mut sums = [(0f64, 0f64); 3];
    for chunk in tested.chunks(256) {
        let seq_scores = model.user_scores(chunk)?;
        for (row, &u) in seq_scores.outer_iter().zip(chunk) {
            let t = targets[u].expect("tested") as usize;
            let history = train.sequence(u);
            let uf = &als.user_factors()[u * k..(u + 1) * k];
            let als_scores: Vec<f32> = (0..n_items)
                .map(|i| uf.iter().zip(&als.item_factors()[i * k..(i + 1) * k]).map(|(a, b)| a * b).sum())
                .collect();
            let row = row.to_vec();
            for (m, scores) in [&row, &als_scores, &popularity].into_iter().enumerate() {
                let (hr, ndcg) = hit_ndcg(scores, history, t);
                sums[m].0 += hr;
                sums[m].1 += ndcg;
            }
        }
    }
    let n = tested.len().max(1) as f64;
    let names = ["SASRec", "ALS (64 factors)", "popularity"];
    let times = [fit_s, als_s, 0.0];
    let rows: Vec<Vec<String>> = (0..3)
        .map(|m| {
            vec![
                names[m].to_string(),
                format!("{:.4}", sums[m].0 / n),
                format!("{:.4}", sums[m].1 / n),
                format!("{:.1}", times[m]),
            ]
        })
        .collect();
    println!("   {:<18} {:>7} {:>8} {:>7}", "model", "HR@10", "NDCG@10", "fit s");
    for r in &rows {
        println!("   {:<18} {:>7} {:>8} {:>7}", r[0], r[1], r[2], r[3]);
    }
    report.section(
        "Sequential recommendation",
        &format!(
            "SASRec reads the order of each user's events (with the event type as context) and predicts the next \
             product; ALS sees the same events without their order. Leave-last-out on {} users of generated \
             shopping sessions, full ranking over all {} products. SASRec NDCG@10 {:.3} vs ALS {:.3}.",
            tested.len(),
            n_items,
            sums[0].1 / n,
            sums[1].1 / n
        ),
    );
    report.table(&["model", "HR@10", "NDCG@10", "fit s"], &rows);
    let bars: Vec<(String, f64)> = (0..3).map(|m| (names[m].to_string(), sums[m].1 / n)).collect();
    let val: Vec<(f64, f64)> = h.epochs.iter().filter_map(|e| Some((e.epoch as f64, e.val_ndcg?))).collect();
    report.charts(&[
        report::bars("Next-item NDCG@10 (full ranking)", "NDCG@10", &bars),
        report::lines("SASRec validation NDCG@10 per epoch", "epoch", "NDCG@10", &[("SASRec", val)], false),
    ]);
    Ok(())
}
