//! Geometry unit tests.

use super::*;
use crate::label::{Part, Pt};

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
