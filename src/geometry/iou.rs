//! Intersection over union of objects (sets of parts).

use geo::{Area, BooleanOps, Coord, LineString, MultiPolygon, Polygon};

use super::{bounds, part_area, parts_bounds, ring_area};
use crate::label::{Part, Pt};

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
