//! Polygon validity: finite vertices, non-zero area, no crossing, holes inside.

use geo::line_intersection::{line_intersection, LineIntersection};
use geo::{Coord, Line};

use super::{bounds, ring_area};
use crate::label::{Part, Pt};

/// Why a part is not a valid polygon.
#[derive(Debug, Clone, PartialEq)]
pub enum Invalid {
    NonFinite { ring: usize },
    TooFewPoints { ring: usize },
    ZeroArea { ring: usize },
    SelfIntersection { ring: usize, at: (f64, f64) },
    RingsIntersect { a: usize, b: usize, at: (f64, f64) },
    HoleOutside { ring: usize },
    NestedHoles { a: usize, b: usize },
    TooComplex { segments: usize },
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |r: &usize| {
            if *r == 0 {
                "outer ring".to_owned()
            } else {
                format!("hole {r}")
            }
        };
        match self {
            Invalid::NonFinite { ring } => write!(f, "{} has a non-finite coordinate", name(ring)),
            Invalid::TooFewPoints { ring } => {
                write!(f, "{} has fewer than 3 distinct vertices", name(ring))
            }
            Invalid::ZeroArea { ring } => {
                write!(f, "{} has zero area (collinear vertices)", name(ring))
            }
            Invalid::SelfIntersection { ring, at } => {
                write!(
                    f,
                    "{} intersects itself at ({}, {})",
                    name(ring),
                    at.0,
                    at.1
                )
            }
            Invalid::RingsIntersect { a, b, at } => {
                write!(
                    f,
                    "{} and {} intersect at ({}, {})",
                    name(a),
                    name(b),
                    at.0,
                    at.1
                )
            }
            Invalid::HoleOutside { ring } => {
                write!(f, "{} is not inside the outer ring", name(ring))
            }
            Invalid::NestedHoles { a, b } => write!(f, "{} lies inside {}", name(a), name(b)),
            Invalid::TooComplex { segments } => {
                write!(
                    f,
                    "too complex to check ({segments} segments with too many overlapping pairs)"
                )
            }
        }
    }
}

/// Consecutive duplicates (and a repeated closing vertex) removed.
fn distinct(ring: &[Pt]) -> Vec<Pt> {
    let mut out: Vec<Pt> = Vec::with_capacity(ring.len());
    for &p in ring {
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

struct Seg {
    ring: usize,
    idx: usize,
    line: Line<f64>,
    xmin: f64,
    xmax: f64,
    ymin: f64,
    ymax: f64,
}

/// Pair checks allowed per segment before a part is reported as too complex to check. Real
/// masks need a handful per segment; only adversarial shapes come near this.
const PAIR_BUDGET_PER_SEGMENT: usize = 2_000;

/// Check that a part is a valid polygon: every ring has 3 distinct finite vertices and a
/// non-zero area, no ring intersects itself or another ring, and holes lie inside the outer
/// ring and not inside each other.
///
/// Segment intersections are found with an x-sorted sweep (O(n log n) plus the pairs whose
/// x ranges overlap) with geo's robust `line_intersection`; geo's own `is_valid` is O(n²)
/// and accepts zero-area collinear rings.
pub fn validate_part(part: &Part) -> Result<(), Invalid> {
    let mut rings: Vec<Vec<Pt>> = Vec::with_capacity(part.rings.len());
    for (i, r) in part.rings.iter().enumerate() {
        if r.iter().any(|p| !p.x.is_finite() || !p.y.is_finite()) {
            return Err(Invalid::NonFinite { ring: i });
        }
        let d = distinct(r);
        if d.len() < 3 {
            return Err(Invalid::TooFewPoints { ring: i });
        }
        let area = ring_area(&d);
        let scale = bounds(&d)
            .map(|b| (b.2 - b.0).max(b.3 - b.1))
            .unwrap_or(0.0);
        if area.is_nan() || area <= 1e-12 * scale * scale {
            return Err(Invalid::ZeroArea { ring: i });
        }
        rings.push(d);
    }
    if rings.is_empty() {
        return Err(Invalid::TooFewPoints { ring: 0 });
    }
    check_crossings(&rings)?;
    // Rings do not cross, so one vertex tells whether a hole is inside another ring.
    let Some((outer, holes)) = rings.split_first() else {
        return Ok(());
    };
    for (i, h) in holes.iter().enumerate() {
        if let Some(p) = h.first() {
            if !point_in_ring(*p, outer) {
                return Err(Invalid::HoleOutside { ring: i + 1 });
            }
        }
    }
    if holes.len() > 1 {
        let hb: Vec<_> = holes.iter().map(|h| bounds(h.iter())).collect();
        for (i, h) in holes.iter().enumerate() {
            let Some(p) = h.first() else { continue };
            for (j, other) in holes.iter().enumerate() {
                let inside_box = matches!(hb.get(j), Some(Some(b)) if p.x >= b.0 && p.x <= b.2 && p.y >= b.1 && p.y <= b.3);
                if i != j && inside_box && point_in_ring(*p, other) {
                    return Err(Invalid::NestedHoles { a: i + 1, b: j + 1 });
                }
            }
        }
    }
    Ok(())
}

fn check_crossings(rings: &[Vec<Pt>]) -> Result<(), Invalid> {
    let mut segs: Vec<Seg> = Vec::with_capacity(rings.iter().map(Vec::len).sum());
    for (ri, r) in rings.iter().enumerate() {
        let n = r.len();
        for (i, a) in r.iter().enumerate() {
            let Some(b) = r.get((i + 1) % n) else {
                continue;
            };
            segs.push(Seg {
                ring: ri,
                idx: i,
                line: Line::new(Coord { x: a.x, y: a.y }, Coord { x: b.x, y: b.y }),
                xmin: a.x.min(b.x),
                xmax: a.x.max(b.x),
                ymin: a.y.min(b.y),
                ymax: a.y.max(b.y),
            });
        }
    }
    segs.sort_unstable_by(|a, b| a.xmin.total_cmp(&b.xmin));
    let ring_len = |r: usize| rings.get(r).map_or(0, Vec::len);
    let budget = PAIR_BUDGET_PER_SEGMENT
        .saturating_mul(segs.len())
        .max(1_000_000);
    let mut pairs = 0usize;
    for (i, s) in segs.iter().enumerate() {
        for t in segs.iter().skip(i + 1) {
            if t.xmin > s.xmax {
                break;
            }
            pairs += 1;
            if pairs > budget {
                return Err(Invalid::TooComplex {
                    segments: segs.len(),
                });
            }
            if t.ymin > s.ymax || s.ymin > t.ymax {
                continue;
            }
            let Some(hit) = line_intersection(s.line, t.line) else {
                continue;
            };
            if s.ring == t.ring {
                let n = ring_len(s.ring);
                let adjacent = (s.idx + 1) % n == t.idx || (t.idx + 1) % n == s.idx;
                if adjacent {
                    // Neighbours share a vertex; only a collinear overlap (a spike) is wrong.
                    if let LineIntersection::SinglePoint { .. } = hit {
                        continue;
                    }
                }
                return Err(Invalid::SelfIntersection {
                    ring: s.ring,
                    at: hit_point(&hit),
                });
            }
            let (a, b) = if s.ring < t.ring {
                (s.ring, t.ring)
            } else {
                (t.ring, s.ring)
            };
            return Err(Invalid::RingsIntersect {
                a,
                b,
                at: hit_point(&hit),
            });
        }
    }
    Ok(())
}

fn hit_point(hit: &LineIntersection<f64>) -> (f64, f64) {
    match hit {
        LineIntersection::SinglePoint { intersection, .. } => (intersection.x, intersection.y),
        LineIntersection::Collinear { intersection } => {
            (intersection.start.x, intersection.start.y)
        }
    }
}

/// Even-odd ray casting; `p` is known not to lie on the ring.
fn point_in_ring(p: Pt, ring: &[Pt]) -> bool {
    let mut inside = false;
    let n = ring.len();
    let mut j = n.wrapping_sub(1);
    for (i, a) in ring.iter().enumerate() {
        if let Some(b) = ring.get(j) {
            if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}
