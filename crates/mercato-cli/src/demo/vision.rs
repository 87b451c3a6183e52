//! Demo step 3: product images (filled in when the classifier lands).

use mercato::Result;

use crate::report::Report;

pub fn run(_report: &mut Report) -> Result<()> {
    Ok(())
}
