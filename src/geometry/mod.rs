//! Rings, areas, bounds, IoU and polygon validity, on top of `geo`.
//!
//! Areas follow Kili's convention (kili-formats COCO exporter): a part's area is the outer
//! ring's shoelace area minus its holes'; an object's parts (annotations sharing a mid) add up.

mod area;
mod bounds;
mod iou;
mod validity;

pub use area::{part_area, ring_area};
pub use bounds::{bounds, bounds_overlap, parts_bounds};
pub use iou::{iou, iou_above};
pub use validity::{validate_part, Invalid};

#[cfg(test)]
mod tests;
