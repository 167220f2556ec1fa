//! Error location: a read that failed is read again under `serde_path_to_error`, so that the
//! error names the path of the bad value; the fast path pays nothing for that.

use serde::de::{DeserializeSeed, Deserializer};

use super::document::{DocSeed, JsonSource};
use super::labels::OptLabelSeed;
use super::response::EntrySeed;
use crate::error::{LabelError, PathPart};
use crate::label::doc::ParsedLabel;
use crate::label::model::{Label, LabelField, ReadOpts};

pub(super) fn locate_error(bytes: &[u8], opts: ReadOpts) -> LabelError {
    let (err, read) = locate_with(bytes, opts, false);
    // A label that is not JSON fails while it is held, at the label's path: read it in place
    // to name the path inside it (a label nested past the limit from the record would be
    // refused at that limit, but it is not JSON anyway).
    let at_label = match err.parts.as_slice() {
        [PathPart::Key(k)] => k == "latestLabel",
        [PathPart::Key(k), PathPart::Index(_)] => k == "latestLabels" || k == "labels",
        _ => false,
    };
    if read && at_label {
        return locate_with(bytes, opts, true).0;
    }
    err
}

/// The located error, and whether the JSON reader (not a label's own reader) raised it.
fn locate_with(bytes: &[u8], opts: ReadOpts, inline: bool) -> (LabelError, bool) {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut track = serde_path_to_error::Track::new();
    let res = DocSeed {
        opts,
        src: &JsonSource { inline },
    }
    .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
    .and_then(|d| de.end().map(|_| d));
    match res {
        Ok(mut doc) => (
            doc.error
                .take()
                .unwrap_or_else(|| LabelError::new("", "the document could not be read")),
            false,
        ),
        Err(e) => (LabelError::from_json(&track.path(), &e), true),
    }
}

/// Read one set-aside entry from `fast`; on failure read it again from `slow` (the same value)
/// to name the path of the error, prefixed with the entry's name.
pub fn read_entry_from<'de, D>(
    label: &mut Label,
    name: &str,
    fast: D,
    slow: D,
    opts: ReadOpts,
) -> Result<(), LabelError>
where
    D: Deserializer<'de, Error = serde_json::Error>,
{
    if EntrySeed::top(&mut *label, name, opts)
        .deserialize(fast)
        .is_ok()
    {
        return Ok(());
    }
    let mut scratch = Label::default();
    let mut track = serde_path_to_error::Track::new();
    let res = EntrySeed::top(&mut scratch, name, opts)
        .deserialize(serde_path_to_error::Deserializer::new(slow, &mut track));
    match res {
        Ok(()) => Err(LabelError::new(name, "could not be read")),
        Err(e) => Err(LabelError::from_json(&track.path(), &e).under(name)),
    }
}

/// Read one held label from `fast`; on failure read it again from `slow` (the same value) to
/// name the path of the error, from the label.
pub fn read_label_from<'de, D>(
    fast: D,
    slow: D,
    field: LabelField,
    opts: ReadOpts,
) -> Result<Option<ParsedLabel>, LabelError>
where
    D: Deserializer<'de, Error = serde_json::Error>,
{
    if let Ok(l) = (OptLabelSeed { opts, field }).deserialize(fast) {
        return Ok(l);
    }
    let mut track = serde_path_to_error::Track::new();
    let res = OptLabelSeed { opts, field }
        .deserialize(serde_path_to_error::Deserializer::new(slow, &mut track));
    match res {
        Ok(_) => Err(LabelError::new("", "the label could not be read")),
        Err(e) => Err(LabelError::from_json(&track.path(), &e)),
    }
}
