//! A small, bounded reader of a zip's central directory: the list that `unzip`, Python's
//! `zipfile` and Kili's importers go by. It folds every entry into a [`Fold`] (a count and a
//! keyed hash of each entry's local-header offset, name and compressed size), in constant
//! memory, so a streamed reading of the local headers can be checked against it at the cost
//! of one sequential read of the directory.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufReader, Read, Seek, SeekFrom};

const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ENTRY_SIG: u32 = 0x0201_4b50;
const EOCD_LEN: u64 = 22;
const ZIP64_LOCATOR_LEN: u64 = 20;
const ZIP64_EOCD_LEN: u64 = 56;
/// A zip64 field that says "the value is in the zip64 extra field".
const MAX32: u32 = u32::MAX;

/// Why the central directory could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CdError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("no end of central directory record (not a zip, or a truncated one)")]
    NoEnd,
    #[error("the zip64 end of central directory record is missing or corrupt")]
    BadZip64,
    #[error("the central directory lies outside the file")]
    OutOfFile,
    #[error("central directory entry {index} is corrupt (no entry signature)")]
    BadEntry { index: u64 },
    #[error("central directory entry {index} has a corrupt zip64 extra field")]
    BadExtra { index: u64 },
    #[error("the central directory's size does not match its {entries} entries")]
    SizeMismatch { entries: u64 },
}

/// A count and an order-free sum of keyed hashes of a zip's members. The key is random per
/// run, so no crafted zip can make two different member lists fold alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Fold {
    pub count: u64,
    sum: u64,
}

impl Fold {
    pub fn add(&mut self, key: &RandomState, offset: u64, name: &[u8], csize: u64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(member_hash(key, offset, name, csize));
    }
}

/// The keyed hash of one member: where its local header is, its raw name, its compressed size.
pub(crate) fn member_hash(key: &RandomState, offset: u64, name: &[u8], csize: u64) -> u64 {
    let mut h = key.build_hasher();
    h.write_u64(offset);
    h.write_u64(csize);
    h.write(name);
    h.finish()
}

fn u16_of(r: &mut impl Read) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn u32_of(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn u64_of(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn skip(r: &mut impl Read, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Where the directory is: its first byte in the file, its size, its number of entries, and
/// what to add to the offsets it records (bytes in front of the zip, as in a zip joined after
/// another file: `unzip` and `zipfile` read such a zip the same way).
#[derive(Debug, PartialEq)]
struct Directory {
    start: u64,
    size: u64,
    entries: u64,
    shift: u64,
}

/// The end record: the last signature whose comment runs exactly to the end of the file, or
/// else the last signature (what Python's `zipfile` takes).
fn find_end<R: Read + Seek>(r: &mut R) -> Result<(u64, Vec<u8>), CdError> {
    let len = r.seek(SeekFrom::End(0))?;
    if len < EOCD_LEN {
        return Err(CdError::NoEnd);
    }
    let tail_len = len.min(EOCD_LEN + u64::from(u16::MAX));
    let tail_start = len - tail_len;
    r.seek(SeekFrom::Start(tail_start))?;
    let mut tail = Vec::new();
    r.take(tail_len).read_to_end(&mut tail)?;
    let sig = EOCD_SIG.to_le_bytes();
    let mut last = None;
    let mut exact = None;
    for (i, w) in tail.windows(4).enumerate().rev() {
        if w != sig {
            continue;
        }
        let Some(mut rec) = tail.get(i..).filter(|t| t.len() as u64 >= EOCD_LEN) else {
            continue;
        };
        last = last.or(Some(i));
        skip(&mut rec, 20)?;
        let comment = u16_of(&mut rec)?;
        if rec.len() == usize::from(comment) {
            exact = Some(i);
            break;
        }
    }
    let i = exact.or(last).ok_or(CdError::NoEnd)?;
    let rec = tail.get(i..).map(<[u8]>::to_vec).ok_or(CdError::NoEnd)?;
    Ok((tail_start + i as u64, rec))
}

fn locate<R: Read + Seek>(r: &mut R) -> Result<Directory, CdError> {
    let (eocd_pos, rec) = find_end(r)?;
    let mut rec = rec.as_slice();
    skip(&mut rec, 10)?;
    let mut entries = u64::from(u16_of(&mut rec)?);
    let mut size = u64::from(u32_of(&mut rec)?);
    let mut offset = u64::from(u32_of(&mut rec)?);
    let mut base = eocd_pos;
    // A zip64 locator right before the end record: its record holds the real values.
    if let Some(loc_pos) = eocd_pos.checked_sub(ZIP64_LOCATOR_LEN) {
        r.seek(SeekFrom::Start(loc_pos))?;
        if u32_of(r)? == ZIP64_LOCATOR_SIG {
            // Where the record sits in this file (it lies just before the locator); the
            // offset the locator records does not count bytes in front of the zip.
            let rec_pos = loc_pos
                .checked_sub(ZIP64_EOCD_LEN)
                .ok_or(CdError::BadZip64)?;
            r.seek(SeekFrom::Start(rec_pos))?;
            if u32_of(r)? != ZIP64_EOCD_SIG {
                return Err(CdError::BadZip64);
            }
            skip(r, 28)?;
            entries = u64_of(r)?;
            size = u64_of(r)?;
            offset = u64_of(r)?;
            base = rec_pos;
        }
    }
    let start = base.checked_sub(size).ok_or(CdError::OutOfFile)?;
    let shift = start.checked_sub(offset).ok_or(CdError::OutOfFile)?;
    Ok(Directory {
        start,
        size,
        entries,
        shift,
    })
}

/// Fold every entry of the central directory. Memory: one entry's name and extra field.
pub(crate) fn read_central_directory<R: Read + Seek>(
    r: &mut R,
    key: &RandomState,
) -> Result<Fold, CdError> {
    let dir = locate(r)?;
    r.seek(SeekFrom::Start(dir.start))?;
    let mut rd = BufReader::with_capacity(64 << 10, r).take(dir.size);
    let mut fold = Fold::default();
    let mut name = Vec::new();
    let mut extra = Vec::new();
    let mismatch = CdError::SizeMismatch {
        entries: dir.entries,
    };
    for index in 0..dir.entries {
        let short = |e: io::Error| match e.kind() {
            // The directory ran out before its last entry.
            io::ErrorKind::UnexpectedEof => CdError::SizeMismatch {
                entries: dir.entries,
            },
            _ => CdError::Io(e),
        };
        if u32_of(&mut rd).map_err(short)? != ENTRY_SIG {
            return Err(CdError::BadEntry { index });
        }
        skip(&mut rd, 16).map_err(short)?;
        let mut csize = u64::from(u32_of(&mut rd).map_err(short)?);
        let usize32 = u32_of(&mut rd).map_err(short)?;
        let name_len = u16_of(&mut rd).map_err(short)?;
        let extra_len = u16_of(&mut rd).map_err(short)?;
        let comment_len = u16_of(&mut rd).map_err(short)?;
        skip(&mut rd, 8).map_err(short)?;
        let mut offset = u64::from(u32_of(&mut rd).map_err(short)?);
        name.clear();
        extra.clear();
        (&mut rd).take(u64::from(name_len)).read_to_end(&mut name)?;
        (&mut rd)
            .take(u64::from(extra_len))
            .read_to_end(&mut extra)?;
        if name.len() != usize::from(name_len) || extra.len() != usize::from(extra_len) {
            return Err(mismatch);
        }
        skip(&mut rd, u64::from(comment_len)).map_err(short)?;
        let csize32 = u32::try_from(csize).unwrap_or(MAX32);
        let offset32 = u32::try_from(offset).unwrap_or(MAX32);
        if usize32 == MAX32 || csize32 == MAX32 || offset32 == MAX32 {
            let (c, o) = zip64_values(&extra, usize32, csize32, offset32)
                .ok_or(CdError::BadExtra { index })?;
            csize = c.unwrap_or(csize);
            offset = o.unwrap_or(offset);
        }
        let at = offset.checked_add(dir.shift).ok_or(CdError::OutOfFile)?;
        fold.add(key, at, &name, csize);
    }
    // Every byte of the directory belongs to an entry: a directory that holds more entries
    // than its end record counts reads differently in different tools.
    if rd.limit() != 0 {
        return Err(mismatch);
    }
    Ok(fold)
}

/// The compressed size and offset a zip64 extra field (id 1) gives, for the fields that are
/// 0xFFFFFFFF in the entry, in the order the spec sets: size, compressed size, offset.
fn zip64_values(
    mut extra: &[u8],
    usize32: u32,
    csize32: u32,
    offset32: u32,
) -> Option<(Option<u64>, Option<u64>)> {
    while !extra.is_empty() {
        let id = u16_of(&mut extra).ok()?;
        let len = usize::from(u16_of(&mut extra).ok()?);
        let mut data = extra.get(..len)?;
        extra = extra.get(len..)?;
        if id != 1 {
            continue;
        }
        let mut field = |maxed: bool| -> Option<Option<u64>> {
            if maxed {
                u64_of(&mut data).ok().map(Some)
            } else {
                Some(None)
            }
        };
        let _size = field(usize32 == MAX32)?;
        let csize = field(csize32 == MAX32)?;
        let offset = field(offset32 == MAX32)?;
        return Some((csize, offset));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn zip_of(names: &[&str]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for n in names {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(b"{}").expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    fn fold_of_archive(bytes: &[u8], key: &RandomState) -> Fold {
        let mut z = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut fold = Fold::default();
        for i in 0..z.len() {
            let f = z.by_index_raw(i).expect("member");
            fold.add(key, f.header_start(), f.name_raw(), f.compressed_size());
        }
        fold
    }

    #[test]
    fn folds_like_the_zip_crate() {
        let key = RandomState::new();
        let bytes = zip_of(&["labels/a.json", "labels/b.json", "data.json"]);
        let fold = read_central_directory(&mut Cursor::new(&bytes), &key).expect("cd");
        assert_eq!(fold.count, 3);
        assert_eq!(fold, fold_of_archive(&bytes, &key));
        // Joined after other bytes, the offsets move with it.
        let mut joined = zip_of(&["x.json"]);
        joined.extend_from_slice(&bytes);
        let f2 = read_central_directory(&mut Cursor::new(&joined), &key).expect("cd");
        assert_eq!(f2, fold_of_archive(&joined, &key));
        assert_ne!(f2, fold);
    }

    /// The same zip with a zip64 end record and locator, and a plain end record all 0xFF.
    fn as_zip64(bytes: &[u8]) -> Vec<u8> {
        let (body, mut end) = bytes.split_at(bytes.len() - 22);
        let mut field = |n: usize| -> u64 {
            let mut b = [0u8; 8];
            end.read_exact(b.get_mut(..n).expect("n <= 8"))
                .expect("field");
            u64::from_le_bytes(b)
        };
        let _sig_disks = (field(4), field(4));
        let (_, entries, size, offset) = (field(2), field(2), field(4), field(4));
        let mut out = body.to_vec();
        let pos = out.len() as u64;
        out.extend(ZIP64_EOCD_SIG.to_le_bytes());
        out.extend(44u64.to_le_bytes());
        out.extend([45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for v in [entries, entries, size, offset] {
            out.extend(v.to_le_bytes());
        }
        out.extend(ZIP64_LOCATOR_SIG.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(pos.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(EOCD_SIG.to_le_bytes());
        out.extend([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        out.extend([0xff; 8]);
        out.extend([0, 0]);
        out
    }

    #[test]
    fn zip64_records_are_read() {
        let key = RandomState::new();
        let bytes = as_zip64(&zip_of(&["a.json", "b.json"]));
        let fold = read_central_directory(&mut Cursor::new(&bytes), &key).expect("cd");
        assert_eq!(fold, fold_of_archive(&bytes, &key));
        assert_eq!(fold.count, 2);
        // Joined after other bytes: the record is found where it lies, not where it says.
        let mut joined = zip_of(&["x.json"]);
        joined.extend_from_slice(&bytes);
        let f2 = read_central_directory(&mut Cursor::new(&joined), &key).expect("cd");
        assert_eq!(f2, fold_of_archive(&joined, &key));
        // A locator pointing at no record.
        let mut bad = bytes.clone();
        let at = bytes.len() - 22 - 20 - 56;
        if let Some(b) = bad.get_mut(at) {
            *b = b'X';
        }
        assert!(matches!(
            read_central_directory(&mut Cursor::new(&bad), &key),
            Err(CdError::BadZip64)
        ));
    }

    #[test]
    fn zip64_extra_fields() {
        let mut extra = vec![9, 0, 2, 0, 7, 7, 1, 0, 16, 0];
        extra.extend(5u64.to_le_bytes());
        extra.extend(6u64.to_le_bytes());
        // Only the fields that are 0xFFFFFFFF in the entry are in the extra field, in order.
        assert_eq!(
            zip64_values(&extra, 1, MAX32, MAX32),
            Some((Some(5), Some(6)))
        );
        assert_eq!(zip64_values(&extra, MAX32, 1, MAX32), Some((None, Some(6))));
        assert_eq!(zip64_values(&extra, MAX32, MAX32, MAX32), None, "too short");
        assert_eq!(zip64_values(&[1, 0, 9, 0, 1], 1, MAX32, 1), None, "cut off");
    }

    #[test]
    fn broken_directories_are_typed_errors() {
        let key = RandomState::new();
        let bytes = zip_of(&["a.json", "b.json"]);
        let read = |b: &[u8]| read_central_directory(&mut Cursor::new(b), &key);
        assert!(matches!(read(b"PK\x03\x04 short"), Err(CdError::NoEnd)));
        let cut = bytes.get(..bytes.len() - 30).expect("len");
        assert!(matches!(read(cut), Err(CdError::NoEnd)));
        // The end record claims one entry more than the directory holds.
        let mut more = bytes.clone();
        let end = more.len();
        for k in [end - 12, end - 14] {
            if let Some(b) = more.get_mut(k) {
                *b += 1;
            }
        }
        assert!(matches!(read(&more), Err(CdError::SizeMismatch { .. })));
        // A directory offset past the file.
        let mut far = bytes.clone();
        if let Some(b) = far.get_mut(bytes.len() - 3) {
            *b = 0x7f;
        }
        assert!(matches!(read(&far), Err(CdError::OutOfFile)));
        // A corrupt entry signature.
        let mut bad = bytes.clone();
        let z = zip::ZipArchive::new(Cursor::new(&bytes)).expect("zip");
        let start = usize::try_from(z.central_directory_start()).expect("small");
        if let Some(b) = bad.get_mut(start) {
            *b = b'X';
        }
        assert!(matches!(read(&bad), Err(CdError::BadEntry { index: 0 })));
    }
}
