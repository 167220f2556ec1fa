//! Shoelace areas of rings and parts.

use crate::label::{Part, Pt};

/// Unsigned shoelace area of an open ring.
pub fn ring_area(ring: &[Pt]) -> f64 {
    if ring.len() < 3 {
        return 0.0;
    }
    let Some(&last) = ring.last() else { return 0.0 };
    let mut s = 0.0;
    let mut prev = last;
    for &p in ring {
        s += (prev.x - p.x) * (prev.y + p.y);
        prev = p;
    }
    (s * 0.5).abs()
}

/// Kili's area of one part: outer ring minus holes.
pub fn part_area(part: &Part) -> f64 {
    let mut rings = part.rings.iter();
    let Some(outer) = rings.next() else {
        return 0.0;
    };
    ring_area(outer) - rings.map(|r| ring_area(r)).sum::<f64>()
}
