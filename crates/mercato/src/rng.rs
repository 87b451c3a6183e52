//! Seeded random streams: one independent stream per (seed, purpose, block), so a parallel
//! algorithm draws the same numbers whichever thread runs a block, and results do not depend
//! on the thread count.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The stream for block `block` of purpose `purpose` (a constant naming what the numbers are
/// for: initialisation, shuffling, sampling...) under `seed`.
pub(crate) fn stream(seed: u64, purpose: u64, block: u64) -> Xoshiro256PlusPlus {
    let mix = purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ block.wrapping_mul(0xD1B5_4A32_D192_ED03).rotate_left(17);
    Xoshiro256PlusPlus::seed_from_u64(seed ^ mix)
}
