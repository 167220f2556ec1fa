//! The JSON text of a Python object, written without running Python code. It has one job:
//! when a dict cannot be read, it names the first value JSON cannot say (a type with no JSON
//! counterpart, a non-string key, NaN or an infinity, an object containing itself) with its
//! path, worded as ever; and it gives the `\uXXXX` text of a str holding lone surrogates, which
//! the Deserializer (`de.rs`) reads as serde_json reads `json.dumps` output.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::Borrowed;

use crate::error::{LabelError, PathPart};

/// Containers nested deeper than this are written as `null`. The JSON reader never looks that
/// deep: it refuses anything nested beyond serde_json's limit (128 levels; a bare jsonResponse
/// entry is read from its own start, so 129) and skips ignored values without looking inside.
/// So the cut changes no outcome, and keeps the walk's recursion (the stack) bounded.
const CUT_DEPTH: usize = 200;

/// Past this depth, each container is checked against its ancestors (a circular reference
/// would otherwise be written `CUT_DEPTH` times over). Real labels never get this deep.
const CYCLE_CHECK_DEPTH: usize = 32;

/// Why a Python object has no JSON text.
#[derive(Debug, Clone, PartialEq)]
enum NotJson {
    /// A value of a type JSON has no counterpart for.
    Type(String),
    /// A dict key that is not a string.
    Key(String),
    /// NaN or an infinity.
    NonFinite(f64),
    /// A dict or list that contains itself.
    Circular,
}

impl std::fmt::Display for NotJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotJson::Type(t) => write!(
                f,
                "expected a JSON value (dict, list, str, int, float, bool or None), got {t}"
            ),
            NotJson::Key(t) => write!(f, "expected string keys, got a {t} key"),
            NotJson::NonFinite(x) => write!(f, "expected a finite number, got {x}"),
            NotJson::Circular => f.write_str("the object contains itself (a circular reference)"),
        }
    }
}

enum Seg {
    Key(String),
    Index(usize),
}

/// The error and its path, segments appended while unwinding (the success path pays nothing).
struct Fault {
    segs: Vec<Seg>,
    why: NotJson,
}

type R<T> = Result<T, Box<Fault>>;

fn fail<T>(why: NotJson) -> R<T> {
    Err(Box::new(Fault {
        segs: Vec::new(),
        why,
    }))
}

impl Fault {
    /// The path, outermost first.
    fn into_label_error(self) -> LabelError {
        let parts = self
            .segs
            .into_iter()
            .rev()
            .map(|s| match s {
                Seg::Key(k) => PathPart::Key(k),
                Seg::Index(i) => PathPart::Index(i),
            })
            .collect();
        LabelError::at(parts, self.why.to_string())
    }
}

pub(super) fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// serde_json writes strings and numbers: the escapes and the shortest float text that reads
/// back to the same bits.
fn json_str(buf: &mut Vec<u8>, s: &str) {
    let mut ser = serde_json::Serializer::new(buf);
    // Writing into a Vec cannot fail.
    let _ = serde::Serializer::serialize_str(&mut ser, s);
}

/// A str that is not valid UTF-8 (a lone surrogate): written as `json.dumps` writes it, with
/// `\uXXXX` escapes, so the reader sees (and refuses or pairs) the same code units.
fn json_str_surrogates(buf: &mut Vec<u8>, s: &Bound<'_, PyString>) -> R<()> {
    // SAFETY: `s` is a live str and we hold the GIL; the codec name and error handler are
    // NUL-terminated. The C call runs no method of a str subclass.
    let encoded = unsafe {
        Bound::from_owned_ptr_or_opt(
            s.py(),
            pyo3::ffi::PyUnicode_AsEncodedString(
                s.as_ptr(),
                c"utf-8".as_ptr(),
                c"surrogatepass".as_ptr(),
            ),
        )
    }
    .and_then(|b| b.cast_into::<PyBytes>().ok());
    if encoded.is_none() {
        let _ = PyErr::take(s.py());
    }
    let Some(encoded) = encoded else {
        return fail(NotJson::Type("str (not encodable)".into()));
    };
    let mut rest = encoded.as_bytes();
    buf.push(b'"');
    loop {
        let (valid, tail) = match std::str::from_utf8(rest) {
            Ok(v) => (v, &[][..]),
            Err(e) => {
                let (a, b) = rest.split_at(e.valid_up_to());
                (std::str::from_utf8(a).unwrap_or(""), b)
            }
        };
        let start = buf.len();
        json_str(buf, valid);
        // Drop the quotes serde_json put around the fragment.
        buf.remove(start);
        buf.pop();
        match tail {
            [a, b, c, more @ ..] => {
                let unit = (u32::from(*a & 0x0F) << 12)
                    | (u32::from(*b & 0x3F) << 6)
                    | u32::from(*c & 0x3F);
                buf.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                rest = more;
            }
            _ => break,
        }
    }
    buf.push(b'"');
    Ok(())
}

/// The JSON text of one str (used for strs holding lone surrogates).
pub(super) fn str_json(s: Borrowed<'_, '_, PyString>) -> Result<Vec<u8>, ()> {
    let mut buf = Vec::new();
    match s.to_str() {
        Ok(t) => json_str(&mut buf, t),
        Err(_) => json_str_surrogates(&mut buf, &s).map_err(|_| ())?,
    }
    Ok(buf)
}

struct Writer {
    buf: Vec<u8>,
    /// The containers being written, outermost first.
    open: Vec<*mut pyo3::ffi::PyObject>,
}

impl Writer {
    fn enter(&mut self, v: &Bound<'_, PyAny>) -> R<()> {
        let p = v.as_ptr();
        if self.open.len() >= CYCLE_CHECK_DEPTH && self.open.contains(&p) {
            return fail(NotJson::Circular);
        }
        self.open.push(p);
        Ok(())
    }

    fn value(&mut self, v: &Bound<'_, PyAny>) -> R<()> {
        // Exact types first: a pointer compare each.
        if let Ok(f) = v.cast_exact::<PyFloat>() {
            return self.float(f.value());
        }
        if let Ok(s) = v.cast_exact::<PyString>() {
            return self.string(s);
        }
        if let Ok(d) = v.cast_exact::<PyDict>() {
            return self.dict(d);
        }
        if let Ok(l) = v.cast_exact::<PyList>() {
            return self.seq(v, l.len() as _, pyo3::ffi::PyList_GetItem);
        }
        if v.is_none() {
            self.buf.extend_from_slice(b"null");
            return Ok(());
        }
        if let Ok(b) = v.cast_exact::<PyBool>() {
            let text: &[u8] = if b.is_true() { b"true" } else { b"false" };
            self.buf.extend_from_slice(text);
            return Ok(());
        }
        if v.is_instance_of::<PyInt>() {
            return self.int(v);
        }
        if let Ok(d) = v.cast::<PyDict>() {
            return self.dict(d);
        }
        if let Ok(l) = v.cast::<PyList>() {
            return self.seq(v, l.len() as _, pyo3::ffi::PyList_GetItem);
        }
        if let Ok(t) = v.cast::<PyTuple>() {
            return self.seq(v, t.len() as _, pyo3::ffi::PyTuple_GetItem);
        }
        if let Ok(s) = v.cast::<PyString>() {
            return self.string(s);
        }
        if let Ok(f) = v.cast::<PyFloat>() {
            return self.float(f.value());
        }
        fail(NotJson::Type(type_name(v)))
    }

    fn float(&mut self, x: f64) -> R<()> {
        if !x.is_finite() {
            return fail(NotJson::NonFinite(x));
        }
        let mut ser = serde_json::Serializer::new(&mut self.buf);
        let _ = serde::Serializer::serialize_f64(&mut ser, x);
        Ok(())
    }

    /// Any int, however large, as its decimal digits (as `json.dumps` writes it).
    fn int(&mut self, v: &Bound<'_, PyAny>) -> R<()> {
        let mut ser = serde_json::Serializer::new(&mut self.buf);
        if let Ok(i) = v.extract::<i64>() {
            let _ = serde::Serializer::serialize_i64(&mut ser, i);
            return Ok(());
        }
        if let Ok(u) = v.extract::<u64>() {
            let _ = serde::Serializer::serialize_u64(&mut ser, u);
            return Ok(());
        }
        // SAFETY: `v` is a live int (or int subclass) and we hold the GIL. PyNumber_ToBase
        // reads the int's value directly (no Python method of a subclass runs).
        let digits = unsafe {
            Bound::from_owned_ptr_or_opt(v.py(), pyo3::ffi::PyNumber_ToBase(v.as_ptr(), 10))
        };
        match digits.as_ref().and_then(|d| d.cast::<PyString>().ok()) {
            Some(d) => match d.to_str() {
                Ok(t) => {
                    self.buf.extend_from_slice(t.as_bytes());
                    Ok(())
                }
                Err(_) => fail(NotJson::Type(type_name(v))),
            },
            None => {
                // Clear the exception PyNumber_ToBase may have set.
                let _ = PyErr::take(v.py());
                fail(NotJson::Type(type_name(v)))
            }
        }
    }

    fn string(&mut self, s: &Bound<'_, PyString>) -> R<()> {
        match s.to_str() {
            Ok(t) => {
                json_str(&mut self.buf, t);
                Ok(())
            }
            Err(_) => json_str_surrogates(&mut self.buf, s),
        }
    }

    fn dict(&mut self, d: &Bound<'_, PyDict>) -> R<()> {
        if self.open.len() >= CUT_DEPTH {
            self.buf.extend_from_slice(b"null");
            return Ok(());
        }
        self.enter(d.as_any())?;
        self.buf.push(b'{');
        let py = d.py();
        let (mut pos, mut k, mut v) = (0, std::ptr::null_mut(), std::ptr::null_mut());
        let mut first = true;
        // SAFETY: we hold the GIL and run no Python code while walking (see the module doc),
        // so the dict cannot change and the borrowed key and value stay alive.
        while unsafe { pyo3::ffi::PyDict_Next(d.as_ptr(), &mut pos, &mut k, &mut v) } != 0 {
            let (k, v) = unsafe { (Borrowed::from_ptr(py, k), Borrowed::from_ptr(py, v)) };
            if !first {
                self.buf.push(b',');
            }
            first = false;
            let key = match k.cast::<PyString>() {
                Ok(s) => s,
                Err(_) => {
                    let t = type_name(&k);
                    return fail(NotJson::Key(t));
                }
            };
            self.string(&key)?;
            self.buf.push(b':');
            if let Err(mut f) = self.value(&v) {
                let name = key.to_string_lossy().into_owned();
                f.segs.push(Seg::Key(name));
                return Err(f);
            }
        }
        self.buf.push(b'}');
        self.open.pop();
        Ok(())
    }

    /// A list or tuple; `get` is PyList_GetItem or PyTuple_GetItem (borrowed references).
    fn seq(
        &mut self,
        v: &Bound<'_, PyAny>,
        len: pyo3::ffi::Py_ssize_t,
        get: unsafe extern "C" fn(
            *mut pyo3::ffi::PyObject,
            pyo3::ffi::Py_ssize_t,
        ) -> *mut pyo3::ffi::PyObject,
    ) -> R<()> {
        if self.open.len() >= CUT_DEPTH {
            self.buf.extend_from_slice(b"null");
            return Ok(());
        }
        self.enter(v)?;
        self.buf.push(b'[');
        for i in 0..len.max(0) {
            // SAFETY: as in `dict`; `i` is within the length read before, and nothing can
            // change the list meanwhile.
            let Some(item) = (unsafe { Borrowed::from_ptr_or_opt(v.py(), get(v.as_ptr(), i)) })
            else {
                let _ = PyErr::take(v.py());
                break;
            };
            let i = i as usize;
            if i > 0 {
                self.buf.push(b',');
            }
            if let Err(mut f) = self.value(&item) {
                f.segs.push(Seg::Index(i));
                return Err(f);
            }
        }
        self.buf.push(b']');
        self.open.pop();
        Ok(())
    }
}

/// The JSON text of a Python object (a dict, usually), or where and why it has none.
pub fn to_json(v: &Bound<'_, PyAny>, size_hint: usize) -> Result<Vec<u8>, LabelError> {
    let mut w = Writer {
        buf: Vec::with_capacity(size_hint),
        open: Vec::new(),
    };
    match w.value(v) {
        Ok(()) => Ok(w.buf),
        Err(f) => Err(f.into_label_error()),
    }
}
