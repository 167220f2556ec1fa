//! Rings, areas, bounds, IoU and polygon validity, on top of `geo`.
//!
//! Areas follow Kili's convention (kili-formats COCO exporter): a part's area is the outer
//! ring's shoelace area minus its holes'; an object's parts (annotations sharing a mid) add up.

use geo::line_intersection::{line_intersection, LineIntersection};
use geo::{Area, BooleanOps, Coord, Line, LineString, MultiPolygon, Polygon};

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

/// The rectangle `(xmin, ymin, xmax, ymax)` when `parts` is one axis-aligned 4-vertex ring.
fn as_axis_rect(parts: &[&Part]) -> Option<(f64, f64, f64, f64)> {
    let [part] = parts else { return None };
    let [ring] = part.rings.as_slice() else {
        return None;
    };
    if ring.len() != 4 {
        return None;
    }
    let b = bounds(ring)?;
    let on_corner = |p: &Pt| (p.x == b.0 || p.x == b.2) && (p.y == b.1 || p.y == b.3);
    let area = (b.2 - b.0) * (b.3 - b.1);
    (ring.iter().all(on_corner) && (ring_area(ring) - area).abs() <= 1e-12 * area.max(1e-300))
        .then_some(b)
}

fn to_polygon(part: &Part) -> Polygon<f64> {
    let ls = |r: &Vec<Pt>| LineString::new(r.iter().map(|p| Coord { x: p.x, y: p.y }).collect());
    let mut rings = part.rings.iter();
    let outer = rings
        .next()
        .map(ls)
        .unwrap_or_else(|| LineString::new(Vec::new()));
    Polygon::new(outer, rings.map(ls).collect())
}

/// Intersection over union of two objects, each a set of parts. Rectangles that are axis
/// aligned take a fast path (no polygon is built); others go through geo's boolean ops.
pub fn iou(a: &[&Part], b: &[&Part]) -> f64 {
    iou_above(a, b, -1.0).unwrap_or(0.0)
}

/// The IoU of two objects when it may exceed `bound`; None when a cheap upper bound already
/// shows it cannot (the intersection is at most the smaller area and the overlap of the
/// bounding boxes), which skips the boolean operation for most pairs.
pub fn iou_above(a: &[&Part], b: &[&Part], bound: f64) -> Option<f64> {
    let exact = iou_exact(a, b, bound)?;
    (exact > bound).then_some(exact)
}

fn iou_exact(a: &[&Part], b: &[&Part], bound: f64) -> Option<f64> {
    if let (Some(ra), Some(rb)) = (as_axis_rect(a), as_axis_rect(b)) {
        let w = (ra.2.min(rb.2) - ra.0.max(rb.0)).max(0.0);
        let h = (ra.3.min(rb.3) - ra.1.max(rb.1)).max(0.0);
        let inter = w * h;
        let union = (ra.2 - ra.0) * (ra.3 - ra.1) + (rb.2 - rb.0) * (rb.3 - rb.1) - inter;
        return Some(if union > 0.0 { inter / union } else { 0.0 });
    }
    let (area_a, area_b) = (
        a.iter().map(|p| part_area(p)).sum::<f64>(),
        b.iter().map(|p| part_area(p)).sum::<f64>(),
    );
    if let (Some(ba), Some(bb)) = (parts_bounds(a), parts_bounds(b)) {
        let w = (ba.2.min(bb.2) - ba.0.max(bb.0)).max(0.0);
        let h = (ba.3.min(bb.3) - ba.1.max(bb.1)).max(0.0);
        let most = (w * h).min(area_a).min(area_b);
        let least_union = area_a + area_b - most;
        if least_union > 0.0 && most / least_union <= bound {
            return None;
        }
    }
    let ma = MultiPolygon::new(a.iter().map(|p| to_polygon(p)).collect());
    let mb = MultiPolygon::new(b.iter().map(|p| to_polygon(p)).collect());
    let inter = ma.intersection(&mb).unsigned_area();
    let union = ma.unsigned_area() + mb.unsigned_area() - inter;
    Some(if union > 0.0 && inter.is_finite() {
        (inter / union).clamp(0.0, 1.0)
    } else {
        0.0
    })
}

/// Do two bounds overlap (touching counts)?
pub fn bounds_overlap(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 <= b.2 && b.0 <= a.2 && a.1 <= b.3 && b.1 <= a.3
}

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
/// (reference/stack.md §4) and accepts zero-area collinear rings.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(c: &[(f64, f64)]) -> Vec<Pt> {
        c.iter().map(|&(x, y)| Pt { x, y }).collect()
    }

    fn part(rings: &[&[(f64, f64)]]) -> Part {
        Part {
            rings: rings.iter().map(|r| ring(r)).collect(),
            page: None,
        }
    }

    const SQUARE: &[(f64, f64)] = &[(0., 0.), (1., 0.), (1., 1.), (0., 1.)];

    #[test]
    fn area_with_hole() {
        let p = part(&[
            SQUARE,
            &[(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)],
        ]);
        assert!((part_area(&p) - 0.75).abs() < 1e-15);
        assert_eq!(validate_part(&p), Ok(()));
    }

    #[test]
    fn tutorial_box_area() {
        let p = part(&[&[(0.15, 0.84), (0.15, 0.31), (0.82, 0.31), (0.82, 0.84)]]);
        assert!((part_area(&p) - 0.3551).abs() < 1e-12);
    }

    #[test]
    fn bow_tie_is_invalid() {
        // Asymmetric: the lobes do not cancel, the crossing is reported.
        let p = part(&[&[(0., 0.), (2., 2.), (2., 0.), (0., 1.)]]);
        let r = validate_part(&p);
        assert!(matches!(r, Err(Invalid::SelfIntersection { .. })), "{r:?}");
        // Symmetric: the signed lobes cancel out to zero area, which is reported first.
        let p = part(&[&[(0., 0.), (1., 1.), (1., 0.), (0., 1.)]]);
        assert!(validate_part(&p).is_err());
    }

    #[test]
    fn collinear_ring_is_invalid() {
        let p = part(&[&[(0., 0.), (1., 0.), (2., 0.)]]);
        assert_eq!(validate_part(&p), Err(Invalid::ZeroArea { ring: 0 }));
        let p = part(&[&[(0., 0.), (1., 1.), (2., 2.), (3., 3.)]]);
        assert_eq!(validate_part(&p), Err(Invalid::ZeroArea { ring: 0 }));
    }

    #[test]
    fn too_few_points() {
        let p = part(&[&[(0., 0.), (1., 0.), (1., 0.), (0., 0.)]]);
        assert_eq!(validate_part(&p), Err(Invalid::TooFewPoints { ring: 0 }));
        assert_eq!(
            validate_part(&Part::default()),
            Err(Invalid::TooFewPoints { ring: 0 })
        );
    }

    #[test]
    fn closed_ring_is_fine() {
        let p = part(&[&[(0., 0.), (1., 0.), (1., 1.), (0., 1.), (0., 0.)]]);
        assert_eq!(validate_part(&p), Ok(()));
    }

    #[test]
    fn hole_outside_and_crossing() {
        let p = part(&[SQUARE, &[(2., 2.), (3., 2.), (3., 3.)]]);
        assert_eq!(validate_part(&p), Err(Invalid::HoleOutside { ring: 1 }));
        let p = part(&[SQUARE, &[(0.5, 0.5), (1.5, 0.5), (1.5, 0.8)]]);
        assert!(matches!(
            validate_part(&p),
            Err(Invalid::RingsIntersect { a: 0, b: 1, .. })
        ));
    }

    #[test]
    fn nested_holes() {
        let p = part(&[
            SQUARE,
            &[(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)],
            &[(0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6)],
        ]);
        assert!(matches!(
            validate_part(&p),
            Err(Invalid::NestedHoles { .. })
        ));
    }

    #[test]
    fn spike_is_invalid() {
        let p = part(&[&[(0., 0.), (1., 0.), (1., 1.), (1., 2.), (1., 1.), (0., 1.)]]);
        assert!(validate_part(&p).is_err());
    }

    #[test]
    fn non_finite() {
        let p = part(&[&[(0., 0.), (f64::NAN, 0.), (1., 1.)]]);
        assert_eq!(validate_part(&p), Err(Invalid::NonFinite { ring: 0 }));
    }

    #[test]
    fn large_regular_polygon_is_valid_and_fast() {
        let n = 100_000;
        let r: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                (0.5 + 0.4 * t.cos(), 0.5 + 0.4 * t.sin())
            })
            .collect();
        let p = part(&[&r]);
        assert_eq!(validate_part(&p), Ok(()));
    }

    #[test]
    fn iou_rect_fast_path_matches_boolean_ops() {
        let a = part(&[&[(0., 0.), (2., 0.), (2., 2.), (0., 2.)]]);
        let b = part(&[&[(1., 1.), (3., 1.), (3., 3.), (1., 3.)]]);
        let fast = iou(&[&a], &[&b]);
        assert!((fast - 1.0 / 7.0).abs() < 1e-12);
        // A rotated copy goes through geo.
        let c = part(&[&[(0., 0.), (2., 0.), (2., 2.), (0., 2.), (0., 1.)]]);
        let slow = iou(&[&c], &[&b]);
        assert!((slow - 1.0 / 7.0).abs() < 1e-9, "{slow}");
    }
}
