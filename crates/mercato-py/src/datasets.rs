//! `mercato.datasets`: file loaders returning plain numpy data (pandas glue is in Python).

use mercato::data::{self, Interactions, TripleFormat};
use numpy::{PyArray1, PyArray2, PyArray3};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{args, ids_to_py};
use crate::errors::PyResultExt;

/// Interactions as a dict of columns: user, item (int64 arrays or lists of str), value (float32).
fn triples_dict<'py>(py: Python<'py>, x: &Interactions) -> PyResult<Bound<'py, PyDict>> {
    let (mut users, mut items, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for (u, i, v) in x.iter() {
        users.push(x.users().id(u).clone());
        items.push(x.items().id(i).clone());
        values.push(v);
    }
    let d = PyDict::new(py);
    d.set_item("user", ids_to_py(py, &users)?)?;
    d.set_item("item", ids_to_py(py, &items)?)?;
    d.set_item("value", PyArray1::from_vec(py, values))?;
    Ok(d)
}

/// Loads MovieLens ratings (u.data, ratings.dat or ratings.csv) as columns.
#[pyfunction]
fn load_movielens<'py>(py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let x = py.detach(|| data::load_movielens(&path)).py()?;
    triples_dict(py, &x)
}

/// Loads Last.fm-2k user_artists.dat as columns.
#[pyfunction]
fn load_lastfm<'py>(py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let x = py.detach(|| data::load_lastfm(&path)).py()?;
    triples_dict(py, &x)
}

/// Loads a delimited (user, item, value) file as columns.
#[pyfunction]
#[pyo3(signature = (path, delimiter=",", header=true, columns=(0, 1, Some(2))))]
fn load_triples<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    delimiter: &str,
    header: bool,
    columns: (usize, usize, Option<usize>),
) -> PyResult<Bound<'py, PyDict>> {
    let format =
        TripleFormat { delimiter: delimiter.to_string(), header, columns, duplicates: data::DuplicatePolicy::Sum };
    let x = py.detach(|| data::load_triples(&path, &format)).py()?;
    triples_dict(py, &x)
}

/// Loads an anomaly CSV: (X float64 [n, d], y uint8 [n] or None, feature names).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn load_anomaly_csv<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
) -> PyResult<(Bound<'py, PyArray2<f64>>, Option<Bound<'py, PyArray1<u8>>>, Vec<String>)> {
    let t = py.detach(|| data::load_anomaly_csv(&path)).py()?;
    Ok((PyArray2::from_owned_array(py, t.x), t.y.map(|y| PyArray1::from_vec(py, y)), t.feature_names))
}

/// Fashion-MNIST images (uint8 [N, 28, 28]) and labels (uint8 [N]) for train and test.
#[pyfunction]
#[pyo3(signature = (path=None))]
#[allow(clippy::type_complexity)]
fn load_fashion_mnist<'py>(
    py: Python<'py>,
    path: Option<std::path::PathBuf>,
) -> PyResult<(
    (Bound<'py, PyArray3<u8>>, Bound<'py, PyArray1<u8>>),
    (Bound<'py, PyArray3<u8>>, Bound<'py, PyArray1<u8>>),
)> {
    let fm = py.detach(|| data::idx::load_fashion_mnist(path.as_ref())).py()?;
    Ok((
        (PyArray3::from_owned_array(py, fm.train_images), PyArray1::from_owned_array(py, fm.train_labels)),
        (PyArray3::from_owned_array(py, fm.test_images), PyArray1::from_owned_array(py, fm.test_labels)),
    ))
}

/// The synthetic shopping sessions (`mercato::data::synth_sessions`) as columns.
#[pyfunction]
#[pyo3(signature = (n_users=2000, seed=7))]
fn marketplace_sessions<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = args::n_users)] n_users: usize,
    #[pyo3(from_py_with = args::seed)] seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    use mercato::data::synth_sessions::{sessions, SessionConfig};
    if n_users > 10_000_000 {
        return Err(pyo3::exceptions::PyValueError::new_err("n_users must be at most 10000000"));
    }
    let log = py.detach(|| sessions(&SessionConfig { n_users, seed, ..Default::default() }));
    let d = PyDict::new(py);
    d.set_item("user", PyArray1::from_vec(py, log.iter().map(|e| e.user as i64).collect()))?;
    d.set_item("item", log.iter().map(|e| e.item.as_str()).collect::<Vec<_>>())?;
    d.set_item("category", log.iter().map(|e| e.category.as_str()).collect::<Vec<_>>())?;
    d.set_item("event", log.iter().map(|e| e.event).collect::<Vec<_>>())?;
    d.set_item("time", PyArray1::from_vec(py, log.iter().map(|e| e.time).collect()))?;
    Ok(d)
}

/// The synthetic marketplace (`mercato::data::synth::Marketplace`) as column dicts, with one
/// picture per product (`[n_products, 28, 28]` uint8) when `pictures` is true.
#[pyfunction]
#[pyo3(signature = (scale="small", seed=42, pictures=false))]
fn marketplace<'py>(
    py: Python<'py>,
    scale: &str,
    #[pyo3(from_py_with = args::seed)] seed: u64,
    pictures: bool,
) -> PyResult<Bound<'py, PyDict>> {
    use mercato::data::synth::{Marketplace, Scale};
    use mercato::data::synth_images::SIDE;
    let config = Scale::parse(scale).py()?.config(seed);
    let (market, images) = py.detach(|| {
        if pictures {
            let (m, p) = Marketplace::generate_with_pictures(config);
            (m, Some(p))
        } else {
            (Marketplace::generate(config), None)
        }
    });
    let products = PyDict::new(py);
    products.set_item("product", market.products.iter().map(|p| p.product.as_str()).collect::<Vec<_>>())?;
    products.set_item("name", market.products.iter().map(|p| p.name.as_str()).collect::<Vec<_>>())?;
    products.set_item("category", market.products.iter().map(|p| p.category.as_str()).collect::<Vec<_>>())?;
    products.set_item("price", PyArray1::from_vec(py, market.products.iter().map(|p| p.price).collect()))?;
    let ratings = PyDict::new(py);
    ratings.set_item("user", PyArray1::from_vec(py, market.ratings.iter().map(|r| r.user as i64).collect()))?;
    ratings.set_item("product", market.ratings.iter().map(|r| r.product.as_str()).collect::<Vec<_>>())?;
    ratings.set_item("rating", PyArray1::from_vec(py, market.ratings.iter().map(|r| r.rating).collect()))?;
    let events = PyDict::new(py);
    events.set_item("user", PyArray1::from_vec(py, market.events.iter().map(|e| e.user as i64).collect()))?;
    events.set_item("product", market.events.iter().map(|e| e.product.as_str()).collect::<Vec<_>>())?;
    events.set_item("views", PyArray1::from_vec(py, market.events.iter().map(|e| e.views as i64).collect()))?;
    events.set_item("purchases", PyArray1::from_vec(py, market.events.iter().map(|e| e.purchases as i64).collect()))?;
    let out = PyDict::new(py);
    out.set_item("products", products)?;
    out.set_item("ratings", ratings)?;
    out.set_item("events", events)?;
    if let Some(images) = images {
        let n = images.len();
        let pixels: Vec<u8> = images.into_iter().flat_map(|i| i.pixels).collect();
        let arr = ndarray::Array3::from_shape_vec((n, SIDE, SIDE), pixels)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        out.set_item("pictures", PyArray3::from_owned_array(py, arr))?;
    }
    Ok(out)
}

/// Registers the functions on `m`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load_movielens, m)?)?;
    m.add_function(wrap_pyfunction!(load_lastfm, m)?)?;
    m.add_function(wrap_pyfunction!(load_triples, m)?)?;
    m.add_function(wrap_pyfunction!(load_anomaly_csv, m)?)?;
    m.add_function(wrap_pyfunction!(load_fashion_mnist, m)?)?;
    m.add_function(wrap_pyfunction!(marketplace_sessions, m)?)?;
    m.add_function(wrap_pyfunction!(marketplace, m)?)?;
    Ok(())
}
