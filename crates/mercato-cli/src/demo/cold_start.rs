//! Demo step: cold start. Products added today have no interactions; a hybrid model ranks
//! them for each shopper from what is known on day one: the category, and a photo read by
//! the shipped CNN. Compared with category popularity (the best ranking without a model).

use mercato::data::synth::{category_index, Marketplace, Scale, CATEGORY_NAMES};
use mercato::data::synth_images::SIDE;
use mercato::data::{DuplicatePolicy, Interactions};
use mercato::recommend::hybrid::{Features, HybridMF, ImageFeatures, Reprs};
use mercato::vision::ImageClassifier;
use mercato::{metrics, Result};
use ndarray::{Array2, Array3};
use std::collections::HashMap;

use super::{timed, Step};
use crate::report::{self, Report};

/// One product in this many is held out as new (all its events removed). Products are
/// generated independently, so every fifth one is a random fifth of the catalogue.
const COLD_EVERY: usize = 5;
/// Principal directions of the photo embeddings kept as item features.
const IMAGE_COMPONENTS: usize = 16;

/// Precision@10 and AUC (ties counted as half) of one user's scores over the cold items
/// (`relevant` sorted). A user who chose every cold item has no negatives: AUC 0.5.
fn p10_auc(scores: &[f32], relevant: &[usize]) -> Result<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let p10 = metrics::precision_at_k(&order, relevant, 10)?;
    if relevant.len() == scores.len() {
        return Ok((p10, 0.5));
    }
    let labels: Vec<u8> = (0..scores.len()).map(|i| u8::from(relevant.binary_search(&i).is_ok())).collect();
    let scores: Vec<f64> = scores.iter().map(|&s| s as f64).collect();
    Ok((p10, metrics::roc_auc(&scores, &labels)?))
}

/// One-hot category rows.
fn category_features(categories: &[usize]) -> Result<Features> {
    Features::from_rows(CATEGORY_NAMES.len(), categories.iter().map(|&c| [(c, 1.0)]))
}

/// Rows `rows` of `pictures` as a `[n, SIDE, SIDE]` batch.
fn batch(pictures: &[Vec<u8>], rows: &[usize]) -> Result<Array3<u8>> {
    let data: Vec<u8> = rows.iter().flat_map(|&p| pictures[p].iter().copied()).collect();
    Array3::from_shape_vec((rows.len(), SIDE, SIDE), data).map_err(|e| mercato::Error::invalid(e.to_string()))
}

pub fn run(report: &mut Report) -> Result<()> {
    let _s = Step::start("Cold start: new products known only by a photo and a category (hybrid model)");
    let clf = match ImageClassifier::pretrained("fashion_mnist") {
        Ok(m) => m,
        Err(e) => {
            println!("   the pretrained CNN could not be loaded ({e}); see models/fashion_cnn.md");
            return Ok(());
        }
    };
    let (market, pictures) = Marketplace::generate_with_pictures(Scale::Small.config(11));
    let pixels: Vec<Vec<u8>> = pictures.into_iter().map(|p| p.pixels).collect();
    let category: Vec<usize> = market.products.iter().map(|p| category_index(&p.category).unwrap_or(0)).collect();
    let positions: HashMap<&str, usize> =
        market.products.iter().enumerate().map(|(p, product)| (product.product.as_str(), p)).collect();
    let index = |id: &str| positions.get(id).copied();

    // Hold out a fifth of the products as new: none of their events is trained on.
    let is_cold: Vec<bool> = (0..market.products.len()).map(|p| p % COLD_EVERY == 2).collect();
    let warm_events = market.events.iter().filter(|e| index(&e.product).is_some_and(|p| !is_cold[p]));
    let train =
        Interactions::from_triples(warm_events.map(|e| (e.user, e.product.as_str(), 1.0)), DuplicatePolicy::Sum)?;
    // Catalogue index of each training item row, and the cold products in catalogue order.
    let warm_rows: Vec<usize> =
        (0..train.n_items()).map(|i| train.items().id(i).as_str().and_then(index).expect("known product")).collect();
    let cold: Vec<usize> = (0..market.products.len()).filter(|&p| is_cold[p]).collect();

    // The photos through the shipped CNN's penultimate layer, reduced to their main directions.
    let (embedded, embed_s) =
        timed(|| Ok((clf.embed(&batch(&pixels, &warm_rows)?)?, clf.embed(&batch(&pixels, &cold)?)?)))?;
    let (warm_emb, cold_emb): (Array2<f32>, Array2<f32>) = embedded;
    let image = ImageFeatures::params().n_components(IMAGE_COMPONENTS).fit(warm_emb.view())?;
    let warm_cat = category_features(&warm_rows.iter().map(|&p| category[p]).collect::<Vec<_>>())?;
    let cold_cat = category_features(&cold.iter().map(|&p| category[p]).collect::<Vec<_>>())?;
    let (warm_img, cold_img) = (image.transform(warm_emb.view())?, image.transform(cold_emb.view())?);
    let warm_both = Features::hstack(&[&warm_cat, &warm_img])?;
    let cold_both = Features::hstack(&[&cold_cat, &cold_img])?;
    println!(
        "   {} users, {} products of which {} new (no events); photos embedded by the shipped CNN in {embed_s:.2} s \
         ({} values each, {} directions kept)",
        train.n_users(),
        market.products.len(),
        cold.len(),
        clf.embedding_dim(),
        image.n_components()
    );

    // The cold items each user turned to, by catalogue index → row in `cold`.
    let cold_row = |p: usize| cold.binary_search(&p).ok();
    let mut relevant: Vec<Vec<usize>> = vec![Vec::new(); train.n_users()];
    for e in &market.events {
        if let (Some(p), Some(u)) = (index(&e.product), train.users().index(&e.user.into())) {
            if let Some(r) = cold_row(p) {
                relevant[u].push(r);
            }
        }
    }
    relevant.iter_mut().for_each(|r| r.sort_unstable());
    let tested: Vec<usize> = (0..train.n_users()).filter(|&u| !relevant[u].is_empty()).collect();

    // No identity features: new products have none, and without them every item's
    // representation is learned through its features, the part a new product shares.
    let params = HybridMF::params().factors(32).epochs(30).item_identity(false).seed(0);
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    let mut evaluate = |name: &str, fit_s: f64, score: &dyn Fn(usize) -> Result<Vec<f32>>| -> Result<()> {
        let (mut p, mut auc) = (0.0, 0.0);
        for &u in &tested {
            let (a, b) = p10_auc(&score(u)?, &relevant[u])?;
            p += a;
            auc += b;
        }
        let n = tested.len().max(1) as f64;
        rows.push(vec![name.to_string(), format!("{:.4}", p / n), format!("{:.4}", auc / n), format!("{fit_s:.1}")]);
        bars.push((name.to_string(), p / n));
        Ok(())
    };

    // Category popularity: how often each category was chosen among the trained events.
    let mut per_category = vec![0f32; CATEGORY_NAMES.len()];
    for (_, i, _) in train.iter() {
        per_category[category[warm_rows[i]]] += 1.0;
    }
    let popular: Vec<f32> = cold.iter().map(|&p| per_category[category[p]]).collect();
    evaluate("category popularity", 0.0, &|_| Ok(popular.clone()))?;

    for (name, warm, new) in [
        ("hybrid: photo only", &warm_img, &cold_img),
        ("hybrid: category", &warm_cat, &cold_cat),
        ("hybrid: category + photo", &warm_both, &cold_both),
    ] {
        let (model, fit_s) = timed(|| params.fit(&train, None, Some(warm)))?;
        let users: &Reprs = model.known_user_reprs();
        let items = model.item_reprs(new)?;
        let all: Vec<usize> = (0..items.len()).collect();
        evaluate(name, fit_s, &|u| model.score_reprs(users, &vec![u; all.len()], &items, &all))?;
    }

    println!("   {} shoppers with events on new products; ranking the {} new products:", tested.len(), cold.len());
    println!("   {:<26} {:>7} {:>7} {:>6}", "model", "P@10", "AUC", "fit s");
    for r in &rows {
        println!("   {:<26} {:>7} {:>7} {:>6}", r[0], r[1], r[2], r[3]);
    }
    let lift = |m: usize| bars[m].1 / bars[0].1.max(1e-12);
    println!(
        "   lift in P@10 over category popularity: photo only {:.2}x, category {:.2}x, category + photo {:.2}x",
        lift(1),
        lift(2),
        lift(3)
    );
    report.section(
        "Cold start from photos",
        &format!(
            "{} of {} products are new: none of their events is trained on. A hybrid model (WARP, 32 factors) \
             ranks them for {} shoppers from the photo alone (read by the shipped Fashion-MNIST CNN: its \
             penultimate layer, {} principal directions), the category alone, or both. P@10 {:.3} from the \
             photo alone, {:.3} from the category, {:.3} from both, {:.3} by category popularity.",
            cold.len(),
            market.products.len(),
            tested.len(),
            image.n_components(),
            bars[1].1,
            bars[2].1,
            bars[3].1,
            bars[0].1
        ),
    );
    report.table(&["model", "P@10", "AUC", "fit s"], &rows);
    report.charts(&[report::bars("New products: precision@10", "P@10", &bars)]);
    Ok(())
}
