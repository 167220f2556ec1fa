//! Axis-aligned bounds of points and parts.

use crate::label::{Part, Pt};

/// Axis-aligned bounds `(xmin, ymin, xmax, ymax)` of points; None when there are none.
pub fn bounds<'a>(pts: impl IntoIterator<Item = &'a Pt>) -> Option<(f64, f64, f64, f64)> {
    let mut it = pts.into_iter();
    let first = it.next()?;
    let mut b = (first.x, first.y, first.x, first.y);
    for p in it {
        b.0 = b.0.min(p.x);
        b.1 = b.1.min(p.y);
        b.2 = b.2.max(p.x);
        b.3 = b.3.max(p.y);
    }
    Some(b)
}

/// Bounds of the outer rings of parts.
pub fn parts_bounds(parts: &[&Part]) -> Option<(f64, f64, f64, f64)> {
    bounds(parts.iter().filter_map(|p| p.rings.first()).flatten())
}

/// Do two bounds overlap (touching counts)?
pub fn bounds_overlap(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 <= b.2 && b.0 <= a.2 && a.1 <= b.3 && b.1 <= a.3
}
