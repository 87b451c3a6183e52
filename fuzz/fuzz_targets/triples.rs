//! CSV / delimited (user, item, value) triples: `load_triples` with a format chosen by the
//! first input byte (delimiter, header, value column, duplicate policy).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::data::{load_triples, DuplicatePolicy, TripleFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, body)) = data.split_first() else { return };
    let delimiter = [",", "\t", "::", ";"][(ctl & 3) as usize];
    let format = TripleFormat {
        delimiter: delimiter.into(),
        header: ctl & 4 != 0,
        columns: (0, 1, if ctl & 8 != 0 { None } else { Some(2) }),
        duplicates: match (ctl >> 4) % 3 {
            0 => DuplicatePolicy::Error,
            1 => DuplicatePolicy::Sum,
            _ => DuplicatePolicy::Last,
        },
    };
    let path = mercato_fuzz::scratch_file("triples", "triples.csv", body);
    if let Ok(x) = load_triples(&path, &format) {
        // the result is usable: shapes agree with the id maps
        assert_eq!(x.matrix().rows(), x.users().len());
        assert_eq!(x.matrix().cols(), x.items().len());
    }
});
