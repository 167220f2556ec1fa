//! A serde Deserializer over borrowed Python objects: it drives the same seeds and visitors
//! as JSON text (`label::read`), so a dict and its JSON text mean the same thing, with no JSON
//! written in between (that cost the dict path more than the rules themselves).
//!
//! It behaves as serde_json does on the equivalent text: the same visits (non-negative ints as
//! u64, negative as i64, ints beyond 64 bits as f64), the same recursion limit (128 containers
//! per reader), ignored values not descended into by the visitors. What JSON cannot say (a type
//! with no JSON counterpart, a non-string key, NaN or an infinity, an object containing itself)
//! is refused wherever it sits, set-aside and ignored values included, as a JSON encoder would.
//!
//! No Python code runs while reading: types are compared exactly (subclasses of dict, list,
//! tuple, str, int and float are read through the C API, never through their methods), and
//! every reference is borrowed from its container, which cannot change meanwhile.

use std::cell::{Cell, RefCell};
use std::fmt;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::Borrowed;
use serde::de::{self, DeserializeSeed, Visitor};
use serde::Deserialize;

type Error = serde_json::Error;
type Obj<'de, 'py> = Borrowed<'de, 'py, PyAny>;

/// Containers nested deeper than this (from the document's root) read as null. No visitor
/// looks that deep (the recursion limit stops it at 128), so the cut changes no outcome; it
/// bounds the walk of ignored values.
pub const CUT_DEPTH: usize = 200;
/// Past this depth, each container is checked against its ancestors (a circular reference).
const CYCLE_CHECK_DEPTH: usize = 32;
/// serde_json's recursion limit, per reader.
const RECURSION_LIMIT: u8 = 128;

/// The name under which a set-aside value is handed over (see `Deferred`).
const DEFERRED: &str = "$kili_rules::python::Deferred";
/// The name under which a held label is handed over (see `Held`).
const HELD: &str = "$kili_rules::python::Held";

/// What the walk shares across nested values.
pub struct State {
    /// The containers being read, outermost first (pointers compared for cycles only).
    open: RefCell<Vec<*mut ffi::PyObject>>,
    /// serde_json's `remaining_depth`.
    remaining: Cell<u8>,
}

impl State {
    /// A reader starting `depth` containers below the document's root.
    pub fn new(ancestors: &[*mut ffi::PyObject]) -> Self {
        State {
            open: RefCell::new(ancestors.to_vec()),
            remaining: Cell::new(RECURSION_LIMIT),
        }
    }
}

/// Why a value has no JSON meaning (the message is replaced by the JSON encoder's exact one
/// when the error is located; see `reader.rs`).
fn not_json(what: &str) -> Error {
    de::Error::custom(format!("not JSON: {what}"))
}

/// What a Python value is, as JSON sees it.
enum Kind<'de, 'py> {
    Float(f64),
    Str(Borrowed<'de, 'py, PyString>),
    Dict(Borrowed<'de, 'py, PyDict>),
    List(Obj<'de, 'py>),
    Tuple(Obj<'de, 'py>),
    Null,
    Bool(bool),
    Int(Obj<'de, 'py>),
}

fn kind<'de, 'py>(v: Obj<'de, 'py>) -> Result<Kind<'de, 'py>, Error> {
    // Exact types first: a pointer compare each.
    if let Ok(f) = v.cast_exact::<PyFloat>() {
        return Ok(Kind::Float(f.value()));
    }
    if let Ok(s) = v.cast_exact::<PyString>() {
        return Ok(Kind::Str(s));
    }
    if let Ok(d) = v.cast_exact::<PyDict>() {
        return Ok(Kind::Dict(d));
    }
    if v.cast_exact::<PyList>().is_ok() {
        return Ok(Kind::List(v));
    }
    if v.is_none() {
        return Ok(Kind::Null);
    }
    if let Ok(b) = v.cast_exact::<PyBool>() {
        return Ok(Kind::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(Kind::Int(v));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        return Ok(Kind::Dict(d));
    }
    if v.cast::<PyList>().is_ok() {
        return Ok(Kind::List(v));
    }
    if v.cast::<PyTuple>().is_ok() {
        return Ok(Kind::Tuple(v));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Kind::Str(s));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(Kind::Float(f.value()));
    }
    Err(not_json("type"))
}

/// The UTF-8 of a str, borrowed for as long as the str lives; None for a str holding lone
/// surrogates (not UTF-8).
fn utf8<'de>(s: Borrowed<'de, '_, PyString>) -> Option<&'de str> {
    let mut len: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live str and we hold the GIL. The UTF-8 buffer is cached in the str
    // object and lives as long as it does ('de: the container holding it outlives the read).
    let p = unsafe { ffi::PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut len) };
    if p.is_null() {
        let _ = PyErr::take(s.py());
        return None;
    }
    let len = usize::try_from(len).ok()?;
    // SAFETY: CPython returns `len` bytes of valid UTF-8 at `p` (it refuses strs that have
    // none: lone surrogates); checking them again cost a few percent of the whole read.
    Some(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(p.cast::<u8>(), len)) })
}

/// A str with lone surrogates, read as serde_json reads its `json.dumps` text (`\uXXXX`
/// escapes: a high and a low surrogate pair up, a lone one is an error).
fn surrogate_str(s: Borrowed<'_, '_, PyString>) -> Result<String, Error> {
    let text = super::json_text::str_json(s).map_err(|_| not_json("str"))?;
    serde_json::from_slice::<String>(&text)
}

/// An int as serde_json visits its digits.
fn visit_int<'de, V: Visitor<'de>>(v: Obj<'_, '_>, visitor: V) -> Result<V::Value, Error> {
    if let Ok(i) = v.extract::<i64>() {
        return if i >= 0 {
            visitor.visit_u64(i as u64)
        } else {
            visitor.visit_i64(i)
        };
    }
    if let Ok(u) = v.extract::<u64>() {
        return visitor.visit_u64(u);
    }
    // SAFETY: `v` is a live int (or int subclass); PyLong_AsDouble reads its value directly.
    let x = unsafe { ffi::PyLong_AsDouble(v.as_ptr()) };
    if x == -1.0 && PyErr::take(v.py()).is_some() {
        return Err(de::Error::custom("number out of range"));
    }
    visitor.visit_f64(x)
}

/// Enter a container: the cycle check, the cut, serde_json's recursion limit. Returns false
/// when the container is past the cut (read as null).
fn enter(st: &State, v: Obj<'_, '_>, counted: bool) -> Result<bool, Error> {
    let mut open = st.open.borrow_mut();
    if open.len() >= CUT_DEPTH {
        return Ok(false);
    }
    let p = v.as_ptr();
    if open.len() >= CYCLE_CHECK_DEPTH && open.contains(&p) {
        return Err(not_json("circular"));
    }
    if counted {
        let r = st.remaining.get() - 1;
        if r == 0 {
            return Err(de::Error::custom("recursion limit exceeded"));
        }
        st.remaining.set(r);
    }
    open.push(p);
    Ok(true)
}

fn leave(st: &State, counted: bool) {
    st.open.borrow_mut().pop();
    if counted {
        st.remaining.set(st.remaining.get() + 1);
    }
}

/// Walk a value only to refuse what JSON cannot say (an ignored or set-aside value).
pub fn check(st: &State, v: Obj<'_, '_>) -> Result<(), Error> {
    match kind(v)? {
        Kind::Float(x) if !x.is_finite() => Err(not_json("non-finite")),
        Kind::Dict(d) => {
            if !enter(st, v, false)? {
                return Ok(());
            }
            let r = for_each_item(d, |k, val| {
                if k.cast::<PyString>().is_err() {
                    return Err(not_json("key"));
                }
                check(st, val)
            });
            leave(st, false);
            r
        }
        Kind::List(l) | Kind::Tuple(l) => {
            if !enter(st, v, false)? {
                return Ok(());
            }
            let mut r = Ok(());
            for i in 0..seq_len(l) {
                match seq_item(l, i) {
                    Some(item) => {
                        if let Err(e) = check(st, item) {
                            r = Err(e);
                            break;
                        }
                    }
                    None => break,
                }
            }
            leave(st, false);
            r
        }
        _ => Ok(()),
    }
}

fn for_each_item<'de, 'py>(
    d: Borrowed<'de, 'py, PyDict>,
    mut f: impl FnMut(Obj<'de, 'py>, Obj<'de, 'py>) -> Result<(), Error>,
) -> Result<(), Error> {
    let (mut pos, mut k, mut v) = (0, std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: we hold the GIL and run no Python code while walking, so the dict cannot change
    // and the borrowed key and value stay alive.
    while unsafe { ffi::PyDict_Next(d.as_ptr(), &mut pos, &mut k, &mut v) } != 0 {
        let (k, v) = unsafe { (Borrowed::from_ptr(d.py(), k), Borrowed::from_ptr(d.py(), v)) };
        f(k, v)?;
    }
    Ok(())
}

fn seq_len(l: Obj<'_, '_>) -> usize {
    // SAFETY: `l` is a live list or tuple and we hold the GIL.
    let n = unsafe {
        if l.cast::<PyList>().is_ok() {
            ffi::PyList_Size(l.as_ptr())
        } else {
            ffi::PyTuple_Size(l.as_ptr())
        }
    };
    usize::try_from(n).unwrap_or(0)
}

fn seq_item<'de, 'py>(l: Obj<'de, 'py>, i: usize) -> Option<Obj<'de, 'py>> {
    let i = ffi::Py_ssize_t::try_from(i).ok()?;
    // SAFETY: as in `for_each_item`: borrowed references from a container that cannot change.
    let p = unsafe {
        if l.cast::<PyList>().is_ok() {
            ffi::PyList_GetItem(l.as_ptr(), i)
        } else {
            ffi::PyTuple_GetItem(l.as_ptr(), i)
        }
    };
    let item = unsafe { Borrowed::from_ptr_or_opt(l.py(), p) };
    if item.is_none() {
        let _ = PyErr::take(l.py());
    }
    item
}

/// The Deserializer: one Python value.
pub struct PyDe<'de, 's, 'py> {
    pub obj: Obj<'de, 'py>,
    pub st: &'s State,
}

impl<'de, 's, 'py> PyDe<'de, 's, 'py> {
    pub fn new(obj: Obj<'de, 'py>, st: &'s State) -> Self {
        PyDe { obj, st }
    }
}

impl<'de, 's, 'py> de::Deserializer<'de> for PyDe<'de, 's, 'py> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let st = self.st;
        match kind(self.obj)? {
            Kind::Float(x) => {
                if x.is_finite() {
                    visitor.visit_f64(x)
                } else {
                    Err(not_json("non-finite"))
                }
            }
            Kind::Str(s) => match utf8(s) {
                Some(t) => visitor.visit_borrowed_str(t),
                None => visitor.visit_string(surrogate_str(s)?),
            },
            Kind::Null => visitor.visit_unit(),
            Kind::Bool(b) => visitor.visit_bool(b),
            Kind::Int(v) => visit_int(v, visitor),
            Kind::Dict(d) => {
                if !enter(st, self.obj, true)? {
                    return visitor.visit_unit();
                }
                let mut acc = MapAcc {
                    d,
                    pos: 0,
                    seen: 0,
                    value: None,
                    st,
                };
                let r = visitor.visit_map(&mut acc);
                leave(st, true);
                // serde_json fails a visitor that leaves entries unread (at the next comma).
                match r {
                    Ok(_) if acc.seen < d.len() => Err(de::Error::custom("trailing comma")),
                    r => r,
                }
            }
            Kind::List(l) | Kind::Tuple(l) => {
                if !enter(st, self.obj, true)? {
                    return visitor.visit_unit();
                }
                let mut acc = SeqAcc {
                    l,
                    i: 0,
                    n: seq_len(l),
                    st,
                };
                let r = visitor.visit_seq(&mut acc);
                leave(st, true);
                // As serde_json: a visitor that leaves elements unread fails.
                match r {
                    Ok(_) if acc.i < acc.n => Err(de::Error::custom("trailing characters")),
                    r => r,
                }
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.obj.is_none() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        check(self.st, self.obj)?;
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == DEFERRED {
            check(self.st, self.obj)?;
            return visitor.visit_u64(self.obj.as_ptr() as usize as u64);
        }
        if name == HELD {
            // Not checked here: its own reader refuses what JSON cannot say in it.
            return visitor.visit_u64(self.obj.as_ptr() as usize as u64);
        }
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct enum identifier
    }
}

struct MapAcc<'de, 's, 'py> {
    d: Borrowed<'de, 'py, PyDict>,
    pos: ffi::Py_ssize_t,
    /// Entries handed out so far.
    seen: usize,
    value: Option<Obj<'de, 'py>>,
    st: &'s State,
}

impl<'de> de::MapAccess<'de> for MapAcc<'de, '_, '_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let (mut k, mut v) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: see `for_each_item`.
        if unsafe { ffi::PyDict_Next(self.d.as_ptr(), &mut self.pos, &mut k, &mut v) } == 0 {
            return Ok(None);
        }
        let py = self.d.py();
        let (k, v) = unsafe { (Borrowed::from_ptr(py, k), Borrowed::from_ptr(py, v)) };
        self.value = Some(v);
        self.seen += 1;
        let key = k.cast::<PyString>().map_err(|_| not_json("key"))?;
        seed.deserialize(KeyDe(key)).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(PyDe {
                obj: v,
                st: self.st,
            }),
            None => Err(de::Error::custom("a value without a key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.d.len())
    }
}

struct SeqAcc<'de, 's, 'py> {
    l: Obj<'de, 'py>,
    i: usize,
    n: usize,
    st: &'s State,
}

impl<'de> de::SeqAccess<'de> for SeqAcc<'de, '_, '_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.i >= self.n {
            return Ok(None);
        }
        let Some(item) = seq_item(self.l, self.i) else {
            return Ok(None);
        };
        self.i += 1;
        seed.deserialize(PyDe {
            obj: item,
            st: self.st,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.n.saturating_sub(self.i))
    }
}

/// A dict key: a str, read as serde_json reads an object key.
struct KeyDe<'de, 'py>(Borrowed<'de, 'py, PyString>);

impl<'de> de::Deserializer<'de> for KeyDe<'de, '_> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match utf8(self.0) {
            Some(t) => visitor.visit_borrowed_str(t),
            None => visitor.visit_string(surrogate_str(self.0)?),
        }
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// A value set aside while the document's kind is unknown: a borrowed reference to it.
pub struct Deferred(pub *mut ffi::PyObject);

impl<'de> Deserialize<'de> for Deferred {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Deferred;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Python value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Deferred, E> {
                Ok(Deferred(v as usize as *mut ffi::PyObject))
            }
        }
        d.deserialize_newtype_struct(DEFERRED, V)
    }
}

/// A label of an asset record, held to be read by a reader of its own: a borrowed reference.
pub struct Held(pub *mut ffi::PyObject);

impl<'de> Deserialize<'de> for Held {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Held;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Python value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Held, E> {
                Ok(Held(v as usize as *mut ffi::PyObject))
            }
        }
        d.deserialize_newtype_struct(HELD, V)
    }
}
