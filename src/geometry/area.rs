//! Shoelace areas of rings and parts.

use geo::{Area, BooleanOps, Coord, LineString, MultiPolygon, Polygon};

use super::validity::self_crossing;
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

/// A ring's area as Kili's COCO exporter computes it: a simple ring's shoelace area; a ring
/// that crosses itself is first split into valid pieces (make_valid: the even-odd region of
/// its edges) whose areas add up, lobes of either orientation counting positively (the
/// Z-ordered rectangle is two triangles, not zero). Faces enclosed by the pieces count too,
/// as the exporter re-polygonizes the pieces' boundaries and sums their exteriors.
pub fn ring_area_kili(ring: &[Pt]) -> f64 {
    if self_crossing(ring).is_none() {
        return ring_area(ring);
    }
    let coords: Vec<Coord<f64>> = ring.iter().map(|p| Coord { x: p.x, y: p.y }).collect();
    let poly = Polygon::new(LineString::new(coords), Vec::new());
    let pieces = poly.union(&MultiPolygon::<f64>::new(Vec::new()));
    pieces
        .0
        .iter()
        .map(|p| {
            let holes: f64 = p.interiors().iter().map(closed_ring_area).sum();
            closed_ring_area(p.exterior()) + holes
        })
        .sum()
}

fn closed_ring_area(ls: &LineString<f64>) -> f64 {
    Polygon::new(ls.clone(), Vec::new()).unsigned_area()
}

/// Kili's area of one part: outer ring minus holes.
pub fn part_area(part: &Part) -> f64 {
    let mut rings = part.rings.iter();
    let Some(outer) = rings.next() else {
        return 0.0;
    };
    ring_area_kili(outer) - rings.map(|r| ring_area_kili(r)).sum::<f64>()
}
