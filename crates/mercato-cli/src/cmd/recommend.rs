//! `mercato recommend` and `mercato similar`: serve a saved recommender by external id.

use std::path::PathBuf;

use clap::Args;
use mercato::data::ExternalId;
use mercato::recommend::{similar_but_itself, Filter};
use serde_json::{json, Value};

use super::path_str;
use crate::exit::{CliError, CliResult};
use crate::models::{in_file, read_model_file, LoadedRecommender};
use crate::output::{emit, id_str, num32};

/// `mercato recommend`.
#[derive(Args)]
pub struct RecommendArgs {
    /// A model from `mercato train recommender` (any algorithm).
    #[arg(long)]
    pub model: PathBuf,
    /// The user id, as in the training file.
    #[arg(long)]
    pub user: String,
    /// Number of items.
    #[arg(short = 'n', long = "n", default_value_t = 10)]
    pub n: usize,
    /// Leave out the items the user interacted with in training (the default).
    #[arg(long, overrides_with = "include_seen")]
    pub exclude_seen: bool,
    /// Allow items the user interacted with in training.
    #[arg(long, overrides_with = "exclude_seen")]
    pub include_seen: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn unknown(kind: &'static str, id: &ExternalId) -> CliError {
    mercato::Error::UnknownId { kind, id: id.to_string() }.into()
}

fn check_n(n: usize) -> CliResult<()> {
    if n == 0 {
        return Err(CliError::usage("-n must be at least 1"));
    }
    Ok(())
}

/// Prints the top-N list of one user.
pub fn run(a: RecommendArgs) -> CliResult<()> {
    check_n(a.n)?;
    let loaded = LoadedRecommender::load(&a.model)?;
    let user = ExternalId::parse(&a.user);
    let exclude = !a.include_seen;
    let rec = loaded.recommender();
    // Rating predictors fall back to item biases for users without ratings; a script asking
    // for a user it mistyped should hear about it instead, so every kind answers UnknownId.
    if rec.user_ids().index(&user).is_none() {
        return Err(unknown("user", &user));
    }
    let recs = rec.recommend_ids(&user, a.n, &Filter::new().exclude_seen(exclude))?;
    let (items, fallback) = (recs.items, recs.fallback);
    let list: Vec<Value> = items.iter().map(|(id, s)| json!({"item": id, "score": num32(*s)})).collect();
    let out = json!({
        "model": path_str(&a.model),
        "kind": loaded.kind,
        "user": user,
        "exclude_seen": exclude,
        "popularity_fallback": fallback,
        "items": list,
    });
    emit(a.json, &out, || {
        let what = if loaded.is_explicit() { "predicted rating" } else { "score" };
        println!("top {} for user {} ({}):", items.len(), id_str(&user), loaded.kind);
        println!("{:>4}  {:<24} {what}", "rank", "item");
        for (rank, (id, s)) in items.iter().enumerate() {
            println!("{:>4}  {:<24} {s:.4}", rank + 1, id_str(id));
        }
        if fallback {
            println!("(the user has no training interactions: popularity ranking)");
        }
    });
    Ok(())
}

/// `mercato similar`.
#[derive(Args)]
pub struct SimilarArgs {
    /// A model from `mercato train recommender --algo als|bpr|itemknn|hybrid|content`.
    #[arg(long)]
    pub model: PathBuf,
    /// The item id, as in the training (or, for content models, the catalogue) file.
    #[arg(long)]
    pub item: String,
    /// Number of similar items (the item itself is left out).
    #[arg(short = 'n', long = "n", default_value_t = 10)]
    pub n: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints the items most similar to one item.
pub fn similar(a: SimilarArgs) -> CliResult<()> {
    check_n(a.n)?;
    let item = ExternalId::parse(&a.item);
    let (kind, found) = match content_model(&a.model)? {
        // a content model has items and no users: not a recommender, but it has neighbours
        Some((kind, content)) => {
            if content.item_ids().index(&item).is_none() {
                return Err(unknown("item", &item));
            }
            (kind, similar_but_itself(&item, a.n, |k| content.similar_items_ids(&item, k))?)
        }
        None => {
            let loaded = LoadedRecommender::load(&a.model)?;
            let rec = loaded.recommender();
            if rec.item_ids().index(&item).is_none() {
                return Err(unknown("item", &item));
            }
            match similar_but_itself(&item, a.n, |k| rec.similar_items_ids(&item, k)) {
                Err(mercato::Error::InvalidInput(_)) => {
                    return Err(CliError::runtime(format!(
                        "{} is a {} model; `similar` needs an implicit one, a truncated SVD or a content model \
                         (train with --algo als, bpr, itemknn or content)",
                        a.model.display(),
                        loaded.kind
                    )))
                }
                other => (loaded.kind, other?),
            }
        }
    };
    let list: Vec<Value> = found.iter().map(|(id, s)| json!({"item": id, "similarity": num32(*s)})).collect();
    let out = json!({"model": path_str(&a.model), "kind": kind, "item": item, "items": list});
    emit(a.json, &out, || {
        println!("items similar to {} ({kind}):", id_str(&item));
        for (rank, (id, s)) in found.iter().enumerate() {
            println!("{:>4}  {:<24} {s:.4}", rank + 1, id_str(id));
        }
    });
    Ok(())
}

/// The content model in `path`, with its kind, or `None` when the file holds another kind.
fn content_model(path: &std::path::Path) -> CliResult<Option<(String, mercato::recommend::hybrid::ItemContent)>> {
    use mercato::persist::Persist;
    use mercato::recommend::hybrid::ItemContent;
    let (bytes, kind) = read_model_file(path)?;
    if kind != ItemContent::KIND {
        return Ok(None);
    }
    Ok(Some((kind, ItemContent::from_bytes(bytes).map_err(|e| in_file(path, e))?)))
}
