//! The rule kinds, one file each.

pub mod area;
pub mod bbox;
pub mod count;
pub mod inside_image;
pub mod overlap;
pub mod required;
pub mod valid_polygon;

use crate::label::Resolution;
use crate::rules::Unit;

/// A pixel-unit rule met an object whose asset (or PDF page) has no known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingResolution;

/// Pixel scale of a group: all its parts must sit on pages of known size (or the asset's).
pub(crate) fn scale(
    res: &Resolution,
    unit: Unit,
    pages: impl Iterator<Item = Option<u32>>,
) -> Option<(f64, f64)> {
    match unit {
        Unit::Normalized => Some((1.0, 1.0)),
        Unit::Pixels => {
            let mut out = None;
            for p in pages {
                let s = res.for_page(p)?;
                out = Some(s);
            }
            out.or(res.size)
        }
    }
}
