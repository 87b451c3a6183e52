//! Demo steps 1: recommenders on ratings and on view/purchase events.

use mercato::data::synth::Marketplace;
use mercato::data::{holdout_per_user, ExternalId, Interactions};
use mercato::metrics;
use mercato::recommend::{
    bm25_items, ranking_metrics_at_k, Als, AlsParams, BaselineParams, Bpr, BprParams, Centering, Filter, FunkSVDParams,
    ItemKnn, KNNParams, NegativeSampling, RatingPredictor, Recommender, Rows, SVDppParams, SvdParams,
};
use mercato::Result;

use super::{progress, timed, Step};
use crate::report::{self, Report};

/// A train/test split for one recommender step, with display names for its items.
pub struct RecData<'a> {
    /// What the data is (printed in the step header and the report).
    pub title: String,
    /// Training interactions.
    pub train: Interactions,
    /// Held-out interactions (same user/item index spaces as `train`).
    pub test: Interactions,
    /// Display name of an item id.
    pub name: Box<dyn Fn(&ExternalId) -> String + 'a>,
    /// Users whose top-5 is shown.
    pub shown_users: Vec<ExternalId>,
    /// Explicit step: also fit SVD++ (its cost grows with the rows' lengths).
    pub svdpp: bool,
    /// Implicit step: ALS hyper-parameters fitted to the data's size.
    pub als: AlsParams,
    /// Implicit step: BPR hyper-parameters.
    pub bpr: BprParams,
    /// Implicit step: neighbours kept per item by item kNN.
    pub knn_k: usize,
    /// Implicit step: train ALS and BPR on BM25-weighted counts (long-tailed play counts).
    pub bm25: bool,
}

/// The marketplace's ratings (explicit) or events (implicit), 20% of each user's held out.
pub fn marketplace(market: &Marketplace, implicit: bool) -> Result<RecData<'_>> {
    let (data, what) = if implicit {
        (market.event_interactions()?, "view/purchase events")
    } else {
        (market.rating_interactions()?, "ratings")
    };
    let (train, test) = holdout_per_user(&data, 0.2, 42)?;
    Ok(RecData {
        title: format!("marketplace {what} (20% of each user's held out)"),
        train,
        test,
        name: Box::new(move |id: &ExternalId| {
            let ExternalId::Str(pid) = id else { return id.to_string() };
            market
                .products
                .iter()
                .find(|p| &p.product == pid)
                .map_or(pid.clone(), |p| format!("{} ({})", p.name, p.category))
        }),
        shown_users: (0..3u32).map(ExternalId::from).collect(),
        svdpp: true,
        // ALS's default penalty scales with the mean row length, so the defaults that were
        // chosen on Last.fm also suit this 400-product catalogue.
        als: Als::params(),
        // Popularity-weighted negatives (the default, as implicit's) suit long-tailed catalogues
        // like Last.fm; on 400 products uniform negatives rank better (P@10 0.35 against 0.20).
        bpr: Bpr::params().negative_sampling(NegativeSampling::Uniform),
        knn_k: 20,
        bm25: false,
    })
}

/// RMSE/MAE of a rating predictor on the held-out ratings.
fn score(model: &dyn RatingPredictor, test: &Interactions) -> Result<(f64, f64)> {
    let (mut truth, mut pred) = (Vec::new(), Vec::new());
    for (u, i, v) in test.iter() {
        truth.push(v as f64);
        pred.push(model.predict(test.users().id(u), test.items().id(i)).value as f64);
    }
    Ok((metrics::rmse(&truth, &pred)?, metrics::mae(&truth, &pred)?))
}

/// Explicit ratings: Baseline, FunkSVD, SVD++, item kNN, truncated SVD on held-out ratings.
pub fn explicit(data: &RecData, report: &mut Report) -> Result<()> {
    let _s = Step::start(&format!("Recommenders: explicit {}", data.title));
    let (train, test) = (&data.train, &data.test);
    println!("   {} training and {} held-out ratings", train.nnz(), test.nnz());
    let (funk_p, knn_p) = (FunkSVDParams::default(), KNNParams::default());
    println!(
        "   settings: FunkSVD {} factors, {} epochs; SVD++ {}; item kNN k={}; TruncatedSVD k=16 (user-centred)",
        funk_p.factors,
        funk_p.epochs,
        if data.svdpp { "defaults" } else { "skipped (its cost grows with the rows' lengths)" },
        knn_p.k
    );
    let bar = progress(if data.svdpp { 5 } else { 4 }, "fitting");
    let fit = |name: &str| {
        bar.set_message(name.to_string());
        bar.inc(1);
    };
    fit("Baseline");
    let (baseline, t_base) = timed(|| BaselineParams::default().fit(train))?;
    fit("FunkSVD");
    let (funk, t_funk) = timed(|| funk_p.fit(train))?;
    let svdpp = if data.svdpp {
        fit("SVD++");
        Some(timed(|| SVDppParams::default().fit(train))?)
    } else {
        None
    };
    fit("item kNN");
    let (knn, t_knn) = timed(|| knn_p.fit(train))?;
    fit("TruncatedSVD");
    let (svd, t_svd) = timed(|| SvdParams::new(16).center(Centering::User).fit(train))?;
    bar.finish_and_clear();

    let mut rows = Vec::new();
    let mut bars = Vec::new();
    println!("   {:<22} {:>8} {:>8} {:>9}", "model", "RMSE", "MAE", "fit s");
    let mut models: Vec<(&str, &dyn RatingPredictor, f64)> =
        vec![("Baseline", &baseline, t_base), ("FunkSVD", &funk, t_funk)];
    if let Some((svdpp, t_pp)) = &svdpp {
        models.push(("SVD++", svdpp, *t_pp));
    }
    models.push(("item kNN", &knn, t_knn));
    models.push(("TruncatedSVD k=16", &svd, t_svd));
    let mut results: Vec<(String, f64, f64, f64)> = Vec::new();
    for (name, model, fit_s) in models {
        let (rmse, mae) = score(model, test)?;
        results.push((name.to_string(), rmse, mae, fit_s));
    }
    for (name, rmse, mae, fit_s) in &results {
        println!("   {name:<22} {rmse:>8.4} {mae:>8.4} {fit_s:>9.3}");
        rows.push(vec![name.clone(), format!("{rmse:.4}"), format!("{mae:.4}"), format!("{fit_s:.3}")]);
        bars.push((name.clone(), *rmse));
    }

    println!("\n   FunkSVD top-5 for three users (already-rated items excluded):");
    let mut rec_rows = Vec::new();
    for user in &data.shown_users {
        let recs = funk.recommend(user, 5, &Filter::new().exclude_seen(true))?.items;
        let names: Vec<String> = recs.iter().map(|(id, _)| (data.name)(id)).collect();
        println!("   user {user}: {}", names.join("; "));
        rec_rows.push(vec![format!("user {user}"), names.join("; ")]);
    }

    let history: Vec<(f64, f64)> =
        funk.history().train_rmse.iter().enumerate().map(|(e, &r)| ((e + 1) as f64, r as f64)).collect();
    report.section("Explicit ratings", &format!("{}; RMSE and MAE, lower is better.", data.title));
    report.table(&["model", "RMSE", "MAE", "fit s"], &rows);
    report.charts(&[
        report::bars("RMSE on held-out ratings", "RMSE", &bars),
        report::lines("FunkSVD training loss", "epoch", "training RMSE", &[("FunkSVD", history)], false),
    ]);
    report.table(&["user", "FunkSVD top-5"], &rec_rows);
    Ok(())
}

/// Implicit feedback: ALS, BPR, item kNN ranked against held-out interactions.
pub fn implicit(data: &RecData, report: &mut Report) -> Result<()> {
    let _s = Step::start(&format!("Recommenders: implicit {}, top-10 ranking", data.title));
    let (train, test) = (&data.train, &data.test);
    println!("   {} training and {} held-out interactions", train.nnz(), test.nnz());
    let (train_rows, test_rows) = (Rows::from_csmat(train.matrix())?, Rows::from_csmat(test.matrix())?);
    println!(
        "   settings: ALS {} factors, {} iterations, alpha {}, regularization {}, {:?} confidence; BPR {} factors, {} iterations, {:?} negatives; ItemKNN cosine K={}{}",
        data.als.factors,
        data.als.iterations,
        data.als.alpha,
        data.als.regularization,
        data.als.confidence,
        data.bpr.factors,
        data.bpr.iterations,
        data.bpr.negative_sampling,
        data.knn_k,
        if data.bm25 { "; ALS and BPR on BM25-weighted counts (K1 100, B 0.8)" } else { "" }
    );
    let weighted = if data.bm25 { Some(bm25_items(train, 100.0, 0.8)?) } else { None };
    let fit_on = weighted.as_ref().unwrap_or(train);
    let (als, t_als) = timed(|| data.als.clone().show_progress(true).fit(fit_on))?;
    let (bpr, t_bpr) = timed(|| data.bpr.clone().show_progress(true).fit(fit_on))?;
    let (knn, t_knn) = timed(|| ItemKnn::params().k(data.knn_k).fit(train))?;
    println!("   {:<10} {:>8} {:>8} {:>8} {:>8} {:>8}", "model", "P@10", "NDCG@10", "MAP@10", "AUC", "fit s");
    let (mut rows, mut p_bars, mut n_bars) = (Vec::new(), Vec::new(), Vec::new());
    let models = [("ALS", &als as &dyn Recommender, t_als), ("BPR", &bpr, t_bpr), ("ItemKNN", &knn, t_knn)];
    let mut best = (0, f64::MIN);
    for (k, &(name, model, fit_s)) in models.iter().enumerate() {
        let m = ranking_metrics_at_k(model, &train_rows, &test_rows, 10)?;
        if m.ndcg > best.1 {
            best = (k, m.ndcg);
        }
        println!("   {name:<10} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {fit_s:>8.3}", m.precision, m.ndcg, m.map, m.auc);
        rows.push(vec![
            name.to_string(),
            format!("{:.4}", m.precision),
            format!("{:.4}", m.ndcg),
            format!("{:.4}", m.map),
            format!("{:.4}", m.auc),
            format!("{fit_s:.3}"),
        ]);
        p_bars.push((name.to_string(), m.precision));
        n_bars.push((name.to_string(), m.ndcg));
    }

    // The most popular item, and its neighbours by the model that ranked best here.
    let counts = train.item_counts();
    let product = (0..counts.len()).max_by_key(|&i| counts[i]).unwrap_or(0);
    let (best_name, best_model, _) = models[best.0];
    let similar = best_model.similar_items(product, 6)?;
    let names: Vec<String> =
        similar.iter().skip(1).map(|&(i, s)| format!("{} [{s:.2}]", (data.name)(train.items().id(i)))).collect();
    let shown = (data.name)(train.items().id(product));
    println!("\n   Items similar to {shown} ({best_name}, the best NDCG@10 here):");
    for n in &names {
        println!("     {n}");
    }
    report.section(
        "Implicit feedback",
        &format!("{}: top-10 lists against the held-out interactions; seen items filtered.", data.title),
    );
    report.table(&["model", "P@10", "NDCG@10", "MAP@10", "AUC", "fit s"], &rows);
    report.charts(&[report::bars("precision@10", "P@10", &p_bars), report::bars("NDCG@10", "NDCG@10", &n_bars)]);
    report.table(
        &[&format!("similar to {shown} ({best_name})")],
        &names.into_iter().map(|n| vec![n]).collect::<Vec<_>>(),
    );
    Ok(())
}
