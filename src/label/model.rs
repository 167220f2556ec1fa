//! The label model: what the rules look at, independent of where the label came from.
//!
//! A jsonResponse is flattened into objects (annotations of object, NER, relation and pose
//! jobs, wherever they are nested) and answers (classification categories, transcription
//! texts, other job payloads). Video frames are flattened too: every entry keeps its frame.

use smallvec::SmallVec;

/// Job, category and mid strings: most fit inline (a Kili mid is 23 bytes), so reading a
/// label allocates little.
pub type Name = smol_str::SmolStr;

/// A point in label coordinates (normalized for images; degrees for lat/lon geospatial).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pt {
    pub x: f64,
    pub y: f64,
}

/// A ring of vertices as Kili stores it: open (the first vertex is not repeated).
pub type Ring = Vec<Pt>;

/// One polygon part: `rings[0]` is the outer contour, the rest are its holes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Part {
    pub rings: SmallVec<[Ring; 1]>,
    /// PDF page number (from `pageNumberArray`), 1-based.
    pub page: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Geometry {
    /// No geometry (NER, relations, or geometry not read because no rule needs it).
    #[default]
    None,
    Point(Pt),
    Line(Vec<Pt>),
    /// Rectangles, polygons and semantic masks: one or more parts.
    Parts(SmallVec<[Part; 1]>),
}

/// Where nested content sits: the nearest enclosing object (annotation), or the category of
/// a classification answer, or (children at job level) the job alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParentRef {
    pub job: Name,
    pub category: Option<Name>,
    pub mid: Option<Name>,
}

/// A named-entity span: character offsets and the text Kili stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Span {
    pub begin: u64,
    /// `endOffset`; when absent, `begin` plus the length of `content` in characters.
    pub end: u64,
    pub content: Option<String>,
}

/// A relation annotation: the mids of its start and end entities (or objects).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Relation {
    pub start: Vec<Name>,
    pub end: Vec<Name>,
}

/// One annotation (object, entity, relation, pose point group).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    pub job: Name,
    /// The first category's name (a category key of the interface).
    pub category: Option<Name>,
    pub mid: Option<Name>,
    pub geometry: Geometry,
    pub frame: Option<u32>,
    /// Child jobs answered under this object (`children`), by name.
    pub children: Vec<Name>,
    /// The enclosing object or category when this annotation is nested in `children`.
    pub parent: Option<ParentRef>,
    /// NER: `beginOffset` / `endOffset` / `content`.
    pub span: Option<Span>,
    /// Relations: `startEntities`/`startObjects` and `endEntities`/`endObjects` mids.
    pub relation: Option<Relation>,
    /// The coordinates are longitude/latitude degrees (a geospatial asset), not normalized
    /// image coordinates.
    pub lonlat: bool,
}

/// One answer of a classification (one per chosen category) or another non-object job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    pub job: Name,
    /// The category chosen; None for transcriptions and other payloads.
    pub category: Option<Name>,
    pub frame: Option<u32>,
    /// Child jobs answered under this category.
    pub children: Vec<Name>,
    /// Transcription text (non-empty), for `text` answers.
    pub text: Option<String>,
    /// The enclosing object or category when this answer is nested in `children`.
    pub parent: Option<ParentRef>,
}

impl Answer {
    /// An answer with no category (transcription text, comparison, ranking, file).
    pub fn plain(job: &str, frame: Option<u32>) -> Answer {
        Answer {
            job: Name::new(job),
            category: None,
            frame,
            ..Answer::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Label {
    pub objects: Vec<Object>,
    pub answers: Vec<Answer>,
    /// Frames present in a video label, in the order read; empty for other labels.
    pub frames: Vec<u32>,
    /// Whether the label had an `assetLevel` entry (video: answers that hold for the whole
    /// asset, with `frame` None).
    pub asset_level: bool,
    /// The label record had no `jsonResponse` key (it was not fetched): nothing was read, so
    /// the label cannot be checked. Batch runs make it an `unchecked` row, never a clean label.
    pub no_response: Option<LabelField>,
}

/// Where a label record sat in its document, so that a record without `jsonResponse` can name
/// the field to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelField {
    /// A label record itself (`kili.labels()`: it has `labelOf`).
    Record,
    LatestLabel,
    LatestLabels,
    Labels,
}

impl LabelField {
    /// The SDK call and `fields=` entry that fetch the jsonResponse.
    pub fn fetch_hint(self) -> &'static str {
        match self {
            LabelField::Record => r#"kili.labels(..., fields=[..., "jsonResponse"])"#,
            LabelField::LatestLabel => {
                r#"kili.assets(..., fields=[..., "latestLabel.jsonResponse"])"#
            }
            LabelField::LatestLabels => {
                r#"kili.assets(..., fields=[..., "latestLabels.jsonResponse"])"#
            }
            LabelField::Labels => r#"kili.assets(..., fields=[..., "labels.jsonResponse"])"#,
        }
    }

    /// The record's key in its document ("" for a label record itself).
    pub fn key(self) -> &'static str {
        match self {
            LabelField::Record => "",
            LabelField::LatestLabel => "latestLabel",
            LabelField::LatestLabels => "latestLabels",
            LabelField::Labels => "labels",
        }
    }

    /// Why such a label is not checked, and what to do (the text of its row).
    pub fn unchecked_text(self) -> String {
        format!(
            "label not checked: it has no jsonResponse (the field was not fetched); fetch it with {}",
            self.fetch_hint()
        )
    }
}

/// Who made a label, when, and how (from the label record, when it says).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelInfo {
    /// `author.email`.
    pub author: Option<Name>,
    /// `createdAt`, as Kili wrote it.
    pub created_at: Option<Name>,
    /// `labelType`: DEFAULT, REVIEW, PREDICTION, INFERENCE, AUTOSAVE.
    pub label_type: Option<Name>,
}

impl Label {
    pub fn is_video(&self) -> bool {
        !self.frames.is_empty()
    }

    /// Where the label is now: objects and answers read so far.
    pub fn mark(&self) -> (usize, usize) {
        (self.objects.len(), self.answers.len())
    }

    /// Give `parent` to what was read since `mark` and has no nearer parent yet (readers call
    /// this when an enclosing annotation or category ends, innermost first).
    pub fn adopt(&mut self, mark: (usize, usize), parent: impl Fn() -> ParentRef) {
        for o in self.objects.iter_mut().skip(mark.0) {
            if o.parent.is_none() {
                o.parent = Some(parent());
            }
        }
        for a in self.answers.iter_mut().skip(mark.1) {
            if a.parent.is_none() {
                a.parent = Some(parent());
            }
        }
    }

    /// Mark every object's coordinates as longitude/latitude.
    pub fn set_lonlat(&mut self) {
        for o in &mut self.objects {
            o.lonlat = true;
        }
    }
}

/// Keys at the top of a jsonResponse that are not jobs (the SDK skips them too).
pub fn is_ignored_job(name: &str) -> bool {
    matches!(
        name,
        "ROTATION_JOB" | "ANNOTATION_JOB_COUNTER" | "ANNOTATION_NAMES_JOB"
    )
}

/// A video jsonResponse is keyed by frame indices written as decimal strings.
pub fn frame_index(key: &str) -> Option<u32> {
    if key.is_empty() || key.len() > 9 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// What the compiled rules need from a label; a reader skips the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOpts {
    pub geometry: bool,
}

impl Default for ReadOpts {
    fn default() -> Self {
        ReadOpts { geometry: true }
    }
}

/// Pixel sizes that pixel-unit rules need: the asset's resolution, or per PDF page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resolution {
    pub size: Option<(f64, f64)>,
    pub pages: Vec<(u32, f64, f64)>,
}

impl Resolution {
    pub fn for_page(&self, page: Option<u32>) -> Option<(f64, f64)> {
        if let Some(p) = page {
            if let Some(&(_, w, h)) = self.pages.iter().find(|(n, _, _)| *n == p) {
                return Some((w, h));
            }
        }
        self.size
    }
}
