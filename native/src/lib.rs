//! The pre-filter and plan evaluation of one route of Canhgac's rule engine, in native code.
//!
//! `rules/native.py` builds a `NativeRoute` from what the Python engine already computed for the
//! route (prefilter.py's literal tables, plan.py's plans with the route's source alias chosen), so
//! both engines evaluate the same rules by construction; the Python one stays the reference
//! (`Engine.match_all_applicable`) and the tests compare the two on every corpus event.
//!
//! Per event: each field the route reads is looked up once (the same nested walk as
//! rules/context.py `lookup`), folded once (ASCII lower-casing here, `str.casefold` from Python for
//! other text), and scanned once against all the route's literals of that field (one Aho-Corasick
//! automaton, linear in the text); the rules whose every clause was hit are evaluated on the same
//! folded values. Conditions this crate does not evaluate (regular expressions, wildcards, CIDR,
//! field references, numbers …) stay Python closures, called with one `EventContext` per event.
//! An event this code does not read the way Python would — a non-dict event, a top-level key
//! holding a dotted name, a list, float or dict where a field is read, a lone surrogate — is
//! refused (`match_event` returns None) and the Python engine takes it, so no event is ever
//! evaluated by different rules.

mod fx;
mod json;
mod windows;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{dfa, nfa, Anchored, MatchKind, StartKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// The clause bits one literal sets, in the per-event bitmap of `layers × words` u64s (clause k
/// of the rule at position p is bit p of layer k): a few words, or, for a literal hundreds of
/// rules share (`\\`, `.exe`), the whole bitmap OR-ed at once.
enum Hits {
    Sparse(Vec<(u32, u64)>),
    Dense(Vec<u64>),
}

// A literal serving more than this many (word, mask) pairs is stored as a whole bitmap.
const DENSE_AFTER: usize = 24;

impl Hits {
    #[inline]
    fn mark(&self, bitmap: &mut [u64]) {
        match self {
            Hits::Sparse(pairs) => {
                for &(word, mask) in pairs {
                    bitmap[word as usize] |= mask;
                }
            }
            Hits::Dense(words) => {
                for (target, bits) in bitmap.iter_mut().zip(words) {
                    *target |= bits;
                }
            }
        }
    }
}

/// All literals of one field in one automaton (Aho-Corasick, standard semantics: a state knows
/// every literal ending there). A DFA — one table lookup per byte — while it stays small; past
/// DFA_MAX_BYTES the contiguous NFA, because a big DFA misses the CPU cache on most bytes: Sysmon
/// process_creation's CommandLine literals (9,648) make a 77 MB DFA, slower here than the NFA.
enum Literals {
    Dfa(dfa::DFA),
    Nfa(nfa::contiguous::NFA),
}

const DFA_MAX_BYTES: usize = 8 << 20;
const DFA_MAX_LITERAL_BYTES: usize = 64 << 10;

impl Literals {
    fn build(patterns: &[Vec<u8>]) -> Result<Self, String> {
        let trie = nfa::noncontiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .map_err(|e| e.to_string())?;
        // A DFA has about one state per literal byte; past DFA_MAX_LITERAL_BYTES it cannot stay
        // under DFA_MAX_BYTES, and building it (seconds for the big sets) is skipped.
        if patterns.iter().map(Vec::len).sum::<usize>() <= DFA_MAX_LITERAL_BYTES {
            let built = dfa::Builder::new()
                .match_kind(MatchKind::Standard)
                .start_kind(StartKind::Unanchored)
                .build_from_noncontiguous(&trie)
                .map_err(|e| e.to_string())?;
            if built.memory_usage() <= DFA_MAX_BYTES {
                return Ok(Literals::Dfa(built));
            }
        }
        let built = nfa::contiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .build_from_noncontiguous(&trie)
            .map_err(|e| e.to_string())?;
        Ok(Literals::Nfa(built))
    }

    fn memory_usage(&self) -> usize {
        match self {
            Literals::Dfa(a) => a.memory_usage(),
            Literals::Nfa(a) => a.memory_usage(),
        }
    }

    /// The match states the text passes through (with repeats): every literal found is in the
    /// match list of one of them. One transition per byte, instead of one report per occurrence
    /// of every literal (short literals such as `\\` or `.` occur many times in each text).
    fn visit(&self, text: &[u8], out: &mut Vec<StateID>) {
        match self {
            Literals::Dfa(a) => visit_states(a, text, out),
            Literals::Nfa(a) => visit_states(a, text, out),
        }
    }

    fn for_each_literal(&self, state: StateID, mut found: impl FnMut(usize)) {
        match self {
            Literals::Dfa(a) => {
                (0..a.match_len(state)).for_each(|i| found(a.match_pattern(state, i).as_usize()))
            }
            Literals::Nfa(a) => {
                (0..a.match_len(state)).for_each(|i| found(a.match_pattern(state, i).as_usize()))
            }
        }
    }
}

fn visit_states<A: Automaton>(automaton: &A, text: &[u8], out: &mut Vec<StateID>) {
    let Ok(mut state) = automaton.start_state(Anchored::No) else {
        return;
    };
    for &byte in text {
        state = automaton.next_state(Anchored::No, state, byte);
        if automaton.is_special(state) {
            if automaton.is_dead(state) {
                return;
            }
            if automaton.is_match(state) {
                out.push(state);
            }
        }
    }
}

struct Prefilter {
    exact: HashMap<String, Hits, fx::FxBuild>,
    substrings: Option<Literals>,
    substring_hits: Vec<Hits>,
    numbers: HashMap<u64, Hits>,
}

struct Field {
    parent: usize,
    leaf: Py<PyString>,
    leaf_name: String,
    prefilter: Option<Prefilter>,
}

enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Never,
    Strings(Box<Strings>),
    Null(usize),
    Exists(usize, bool),
    // field, the field it is compared with (folded), starts_with, ends_with (matchers.fieldref_predicate)
    FieldRef(usize, usize, bool, bool),
    // a rule's regular expression on the field's original text, searched (not anchored)
    Regex(Box<Regex>),
    Python(Py<PyAny>),
}

/// A regular expression compiled on its first evaluation (a route holds a hundred; most never
/// meet a candidate event). One the native syntax refuses is evaluated by its Python closure (RE2).
struct Regex {
    field: usize,
    pattern: String,
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
    fallback: Py<PyAny>,
}

struct Strings {
    field: usize,
    cased: bool,
    anything: bool,
    exact: HashSet<String, fx::FxBuild>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    contains: Vec<String>,
}

/// One field's value as the matchers see it: absent (missing or null) or one text — a Python
/// str (borrowed; `folded` only when folding changes it), a string of a JSON event (borrowed
/// from it, json.rs) or an int's decimal text.
enum Value<'py, 'a> {
    Absent,
    Str {
        text: Bound<'py, PyString>,
        folded: Option<String>,
    },
    Text {
        text: Cow<'a, str>,
        folded: Option<String>,
    },
    Int {
        text: String,
        number: i64,
    },
}

impl Value<'_, '_> {
    /// (original, folded) text; None when absent.
    #[inline]
    fn texts(&self) -> Option<(&str, &str)> {
        match self {
            Value::Absent => None,
            // to_str succeeded when the value was read (read()), and a str is immutable
            Value::Str { text, folded } => {
                let original = text.to_str().unwrap_or("");
                Some((original, folded.as_deref().unwrap_or(original)))
            }
            Value::Text { text, folded } => {
                Some((text.as_ref(), folded.as_deref().unwrap_or(text.as_ref())))
            }
            Value::Int { text, .. } => Some((text, text)),
        }
    }
}

/// (engine indices of the rules that match, [(engine index, error)] of those whose Python condition raised)
type Decision = (Vec<usize>, Vec<(usize, PyErr)>);

/// Why an event leaves the native path: Python takes it (Fallback) or a Python call failed.
enum Refusal {
    Fallback,
    Error(PyErr),
}

impl From<PyErr> for Refusal {
    fn from(err: PyErr) -> Self {
        Refusal::Error(err)
    }
}

// Ints up to this convert to float exactly (prefilter.py _EXACT_INT).
const EXACT_INT: i64 = 1 << 53;

fn number_key(value: f64) -> u64 {
    // Python's dict finds 0.0 under -0.0 too
    if value == 0.0 {
        0
    } else {
        value.to_bits()
    }
}

/// Where an event's fields are read from: a Python dict, or a JSON event's tree (json.rs).
enum Source<'py, 'a> {
    Dict(Bound<'py, PyDict>),
    Json(&'a JsonEvent, &'a [u8]),
}

/// An object on a field's path, looked up once per event.
#[derive(Clone)]
enum Parent<'py> {
    Dict(Bound<'py, PyDict>),
    Json(json::Node),
}

struct Event<'py, 'a> {
    py: Python<'py>,
    source: Source<'py, 'a>,
    parents: Vec<Option<Option<Parent<'py>>>>,
    values: Vec<Option<Value<'py, 'a>>>,
    context: Option<Bound<'py, PyAny>>,
}

/// A normalized event read from its JSON bytes (json.rs), for `NativeRoute.match_json`.
#[pyclass(frozen, module = "canhgac_native")]
struct JsonEvent {
    raw: Py<PyBytes>,
    doc: json::Doc,
}

#[pymethods]
impl JsonEvent {
    /// The event, or None when orjson must read it (json.rs parse).
    #[staticmethod]
    fn parse(raw: Bound<'_, PyBytes>) -> Option<JsonEvent> {
        let doc = json::parse(raw.as_bytes())?;
        Some(JsonEvent {
            raw: raw.unbind(),
            doc,
        })
    }

    /// The value a route reads at `path` (for tests: it must equal what the Python engine reads
    /// from orjson's dict): a str or int, None when missing or null, Ellipsis for a value the
    /// route refuses (an object, float, bool, list or integer past i64).
    fn value_at(&self, py: Python<'_>, path: Vec<String>) -> PyResult<Py<PyAny>> {
        let input = self.raw.as_bytes(py);
        let mut node = Some(self.doc.root);
        for part in &path {
            node = node.and_then(|n| self.doc.get(input, n, part));
        }
        Ok(match node.map(|n| self.doc.view(input, n)) {
            None | Some(json::View::Null) => py.None(),
            Some(json::View::Int(number)) => number.into_pyobject(py)?.into_any().unbind(),
            Some(json::View::Str(text)) => PyString::new(py, &text).into_any().unbind(),
            Some(json::View::Object | json::View::Other) => py.Ellipsis(),
        })
    }

    /// (product, category, service) of `canhgac.logsource`, each a str or None (missing or
    /// null), as Engine._route keys its routes; None when it is not an object or holds another type.
    #[allow(clippy::type_complexity)]
    fn logsource(
        &self,
        py: Python<'_>,
    ) -> Option<(Option<String>, Option<String>, Option<String>)> {
        let input = self.raw.as_bytes(py);
        let ours = self.doc.get(input, self.doc.root, "canhgac")?;
        let ls = self.doc.get(input, ours, "logsource")?;
        if ls.kind() != json::Kind::Object {
            return None;
        }
        let part = |name: &str| -> Result<Option<String>, ()> {
            match self
                .doc
                .get(input, ls, name)
                .map(|n| self.doc.view(input, n))
            {
                None | Some(json::View::Null) => Ok(None),
                Some(json::View::Str(text)) => Ok(Some(text.into_owned())),
                Some(_) => Err(()),
            }
        };
        Some((
            part("product").ok()?,
            part("category").ok()?,
            part("service").ok()?,
        ))
    }
}

#[pyclass(frozen, module = "canhgac_native")]
struct NativeRoute {
    width: usize,
    layers: usize,
    start: Vec<u64>,
    parents: Vec<Vec<Py<PyString>>>,
    fields: Vec<Field>,
    rules: Vec<(usize, Node)>,
    parent_names: Vec<Vec<String>>,
    context_class: Py<PyAny>,
    as_number: Py<PyAny>,
    loads: Py<PyAny>,
    most_substrings: usize,
}

/// (position, layer) pairs → the bits they set (see Hits).
fn hits_of(list: &Bound<'_, PyAny>, width: usize, layers: usize) -> PyResult<Hits> {
    let words = width.div_ceil(64);
    let mut pairs: Vec<(u32, u64)> = Vec::new();
    for item in list.try_iter()? {
        let (position, layer): (usize, usize) = item?.extract()?;
        if position >= width || layer >= layers {
            return Err(PyValueError::new_err(format!(
                "hit ({position}, {layer}) outside the route"
            )));
        }
        let word = (layer * words + position / 64) as u32;
        let mask = 1u64 << (position % 64);
        match pairs.iter_mut().find(|(w, _)| *w == word) {
            Some((_, bits)) => *bits |= mask,
            None => pairs.push((word, mask)),
        }
    }
    if pairs.len() <= DENSE_AFTER {
        return Ok(Hits::Sparse(pairs));
    }
    let mut dense = vec![0u64; layers * words];
    for (word, mask) in pairs {
        dense[word as usize] |= mask;
    }
    Ok(Hits::Dense(dense))
}

fn node_of(spec: &Bound<'_, PyAny>, fields: usize) -> PyResult<Node> {
    let tuple = spec.cast::<PyTuple>()?;
    let kind: String = tuple.get_item(0)?.extract()?;
    let field_at = |index: usize| -> PyResult<usize> {
        let field: usize = tuple.get_item(index)?.extract()?;
        if field >= fields {
            return Err(PyValueError::new_err(format!(
                "field {field} not in the route"
            )));
        }
        Ok(field)
    };
    Ok(match kind.as_str() {
        "and" | "or" => {
            let mut parts = Vec::new();
            for part in tuple.get_item(1)?.try_iter()? {
                parts.push(node_of(&part?, fields)?);
            }
            if kind == "and" {
                Node::And(parts)
            } else {
                Node::Or(parts)
            }
        }
        "not" => Node::Not(Box::new(node_of(&tuple.get_item(1)?, fields)?)),
        "never" => Node::Never,
        "null" => Node::Null(field_at(1)?),
        "exists" => Node::Exists(field_at(1)?, tuple.get_item(2)?.extract()?),
        "python" => Node::Python(tuple.get_item(1)?.unbind()),
        "fieldref" => Node::FieldRef(
            field_at(1)?,
            field_at(2)?,
            tuple.get_item(3)?.extract()?,
            tuple.get_item(4)?.extract()?,
        ),
        "regex" => Node::Regex(Box::new(Regex {
            field: field_at(1)?,
            pattern: tuple.get_item(2)?.extract()?,
            compiled: std::sync::OnceLock::new(),
            fallback: tuple.get_item(3)?.unbind(),
        })),
        "strings" => Node::Strings(Box::new(Strings {
            field: field_at(1)?,
            cased: tuple.get_item(2)?.extract()?,
            anything: tuple.get_item(3)?.extract()?,
            exact: tuple
                .get_item(4)?
                .extract::<Vec<String>>()?
                .into_iter()
                .collect(),
            prefixes: tuple.get_item(5)?.extract()?,
            suffixes: tuple.get_item(6)?.extract()?,
            contains: tuple.get_item(7)?.extract()?,
        })),
        other => return Err(PyValueError::new_err(format!("unknown node {other:?}"))),
    })
}

impl Strings {
    fn holds(&self, value: &Value<'_, '_>) -> bool {
        let Some((original, folded)) = value.texts() else {
            return false;
        };
        let text = if self.cased { original } else { folded };
        self.anything
            || self.exact.contains(text)
            || self.prefixes.iter().any(|p| text.starts_with(p.as_str()))
            || self.suffixes.iter().any(|s| text.ends_with(s.as_str()))
            || self.contains.iter().any(|c| text.contains(c.as_str()))
    }
}

impl<'py, 'a> Event<'py, 'a> {
    fn new(py: Python<'py>, route: &NativeRoute, source: Source<'py, 'a>) -> Self {
        Event {
            py,
            source,
            parents: (0..route.parents.len()).map(|_| None).collect(),
            values: (0..route.fields.len()).map(|_| None).collect(),
            context: None,
        }
    }

    /// The object at parent path `index` (rules/context.py lookup: a missing or non-object step
    /// ends the walk), None when there is none.
    fn parent(&mut self, route: &NativeRoute, index: usize) -> PyResult<Option<Parent<'py>>> {
        if let Some(known) = &self.parents[index] {
            return Ok(known.clone());
        }
        let found = match &self.source {
            Source::Dict(root) => {
                let mut node = Some(root.clone());
                for part in &route.parents[index] {
                    node = match node.as_ref().map(|n| n.get_item(part.bind(self.py))) {
                        Some(Ok(Some(child))) => child.cast_into::<PyDict>().ok(),
                        Some(Err(err)) => return Err(err),
                        _ => None,
                    };
                    if node.is_none() {
                        break;
                    }
                }
                node.map(Parent::Dict)
            }
            Source::Json(event, input) => {
                let mut node = Some(event.doc.root);
                for part in &route.parent_names[index] {
                    node = node
                        .and_then(|n| event.doc.get(input, n, part))
                        .filter(|n| n.kind() == json::Kind::Object);
                }
                node.map(Parent::Json)
            }
        };
        self.parents[index] = Some(found.clone());
        Ok(found)
    }

    fn value(&mut self, route: &NativeRoute, index: usize) -> Result<&Value<'py, 'a>, Refusal> {
        if self.values[index].is_none() {
            let field = &route.fields[index];
            let value = match self.parent(route, field.parent)? {
                None => Value::Absent,
                Some(Parent::Dict(parent)) => match parent.get_item(field.leaf.bind(self.py))? {
                    None => Value::Absent,
                    Some(raw) => read(raw)?,
                },
                Some(Parent::Json(parent)) => {
                    let Source::Json(event, input) = self.source else {
                        unreachable!("a JSON parent comes from a JSON event")
                    };
                    let found = event.doc.get(input, parent, &field.leaf_name);
                    match found.map(|n| event.doc.view(input, n)) {
                        None | Some(json::View::Null) => Value::Absent,
                        Some(json::View::Int(number)) => Value::Int {
                            text: number.to_string(),
                            number,
                        },
                        Some(json::View::Str(text)) => {
                            let folded = fold(&text, || {
                                PyString::new(self.py, &text).call_method0("casefold")
                            })?;
                            Value::Text { text, folded }
                        }
                        Some(_) => return Err(Refusal::Fallback),
                    }
                }
            };
            self.values[index] = Some(value);
        }
        Ok(self.values[index].as_ref().unwrap())
    }

    /// The EventContext the Python conditions take; a JSON event is decoded (orjson) the first time.
    fn context(&mut self, route: &NativeRoute) -> PyResult<Bound<'py, PyAny>> {
        if self.context.is_none() {
            let dict = match &self.source {
                Source::Dict(dict) => dict.clone().into_any(),
                Source::Json(event, _) => route
                    .loads
                    .bind(self.py)
                    .call1((event.raw.bind(self.py),))?,
            };
            self.context = Some(route.context_class.bind(self.py).call1((dict,))?);
        }
        Ok(self.context.as_ref().unwrap().clone())
    }
}

/// The folded text when folding changes it: ASCII lower-casing here, else str.casefold from
/// Python (the fold the rules' literals were made with, context.fold).
fn fold<'py>(
    original: &str,
    casefold: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
) -> Result<Option<String>, Refusal> {
    if !original.is_ascii() {
        let folded = casefold()?;
        let folded = folded.cast::<PyString>().map_err(PyErr::from)?;
        return Ok(Some(
            folded.to_str().map_err(|_| Refusal::Fallback)?.to_owned(),
        ));
    }
    Ok(if original.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(original.to_ascii_lowercase())
    } else {
        None
    })
}

/// A scalar the way EventContext.texts/lowers read it, or Fallback for anything else.
fn read<'py, 'a>(raw: Bound<'py, PyAny>) -> Result<Value<'py, 'a>, Refusal> {
    if raw.is_none() {
        return Ok(Value::Absent);
    }
    let raw = match raw.cast_into_exact::<PyString>() {
        Ok(text) => {
            let original = text.to_str().map_err(|_| Refusal::Fallback)?; // lone surrogates
            let folded = fold(original, || text.call_method0("casefold"))?;
            return Ok(Value::Str { text, folded });
        }
        Err(err) => err.into_inner(),
    };
    if raw.is_exact_instance_of::<PyInt>() {
        let number: i64 = raw.extract().map_err(|_| Refusal::Fallback)?; // past i64: Python's
        return Ok(Value::Int {
            text: number.to_string(),
            number,
        });
    }
    Err(Refusal::Fallback)
}

impl NativeRoute {
    fn scan(&self, event: &mut Event<'_, '_>, bitmap: &mut [u64]) -> Result<(), Refusal> {
        let py = event.py;
        let mut seen = vec![0u64; self.most_substrings.div_ceil(64)];
        let mut found_here: Vec<u32> = Vec::new();
        let mut states: Vec<StateID> = Vec::new();
        for index in 0..self.fields.len() {
            let Some(prefilter) = &self.fields[index].prefilter else {
                continue;
            };
            let value = event.value(self, index)?;
            let Some((original, folded)) = value.texts() else {
                continue;
            };
            if !prefilter.numbers.is_empty() {
                let number = match value {
                    Value::Int { number, .. } if (-EXACT_INT..=EXACT_INT).contains(number) => {
                        Some(*number as f64)
                    }
                    Value::Int { .. } => return Err(Refusal::Fallback),
                    _ => number_of_text(original, py, &self.as_number)?,
                };
                if let Some(found) = number.and_then(|n| prefilter.numbers.get(&number_key(n))) {
                    found.mark(bitmap);
                }
            }
            if let Some(found) = prefilter.exact.get(folded) {
                found.mark(bitmap);
            }
            if let Some(automaton) = &prefilter.substrings {
                automaton.visit(folded.as_bytes(), &mut states);
                states.sort_unstable();
                states.dedup();
                for &state in &states {
                    automaton.for_each_literal(state, |pattern| {
                        let (word, bit) = (pattern / 64, 1u64 << (pattern % 64));
                        if seen[word] & bit == 0 {
                            seen[word] |= bit;
                            found_here.push(pattern as u32);
                            prefilter.substring_hits[pattern].mark(bitmap);
                        }
                    });
                }
                states.clear();
                for pattern in found_here.drain(..) {
                    seen[pattern as usize / 64] = 0;
                }
            }
        }
        Ok(())
    }

    /// The event read and scanned, with the positions of its candidate rules; None when the
    /// Python engine must take the event: not a dict, a top-level key holding a dotted name (it
    /// overrides the nested value, context.lookup), a value read differently (Fallback) or a field
    /// read that failed in Python (a casefold, numeric.as_number), which Python reads its own way.
    fn scanned<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'py, PyAny>,
    ) -> Option<(Event<'py, 'static>, Vec<usize>)> {
        let dict = event.cast_exact::<PyDict>().ok()?;
        for key in dict.keys() {
            match key.cast_exact::<PyString>() {
                Ok(name) if !name.to_str().map(|s| s.contains('.')).unwrap_or(true) => {}
                _ => return None,
            }
        }
        self.scanned_from(Event::new(py, self, Source::Dict(dict.clone())))
    }

    fn scanned_from<'py, 'a>(
        &self,
        mut state: Event<'py, 'a>,
    ) -> Option<(Event<'py, 'a>, Vec<usize>)> {
        let mut bitmap = self.start.clone();
        self.scan(&mut state, &mut bitmap).ok()?;
        let positions = self.decode(&bitmap);
        Some((state, positions))
    }

    /// The candidates at `positions` evaluated; None when the Python engine must take the event.
    fn decide(&self, mut state: Event<'_, '_>, positions: Vec<usize>) -> Option<Decision> {
        let (mut found, mut failed) = (Vec::new(), Vec::new());
        for position in positions {
            let (index, node) = &self.rules[position];
            match self.holds(node, &mut state) {
                Ok(true) => found.push(*index),
                Ok(false) => {}
                Err(Refusal::Fallback) => return None,
                Err(Refusal::Error(err)) => failed.push((*index, err)),
            }
        }
        Some((found, failed))
    }

    /// Positions whose every layer is set, ascending.
    fn decode(&self, bitmap: &[u64]) -> Vec<usize> {
        let words = self.width.div_ceil(64);
        let mut out = Vec::new();
        for word in 0..words {
            let mut all = bitmap[word];
            for layer in 1..self.layers {
                all &= bitmap[layer * words + word];
            }
            while all != 0 {
                let bit = all.trailing_zeros() as usize;
                out.push(word * 64 + bit);
                all &= all - 1;
            }
        }
        out
    }

    fn holds(&self, node: &Node, event: &mut Event<'_, '_>) -> Result<bool, Refusal> {
        Ok(match node {
            Node::And(parts) => {
                for part in parts {
                    if !self.holds(part, event)? {
                        return Ok(false);
                    }
                }
                true
            }
            Node::Or(parts) => {
                for part in parts {
                    if self.holds(part, event)? {
                        return Ok(true);
                    }
                }
                false
            }
            Node::Not(inner) => !self.holds(inner, event)?,
            Node::Never => false,
            Node::Strings(strings) => strings.holds(event.value(self, strings.field)?),
            Node::Null(field) => matches!(event.value(self, *field)?, Value::Absent),
            Node::Exists(field, wanted) => {
                !matches!(event.value(self, *field)?, Value::Absent) == *wanted
            }
            Node::FieldRef(field, other, starts, ends) => {
                let mine = match event.value(self, *field)?.texts() {
                    Some((_, folded)) => folded.to_owned(),
                    None => return Ok(false),
                };
                match event.value(self, *other)?.texts() {
                    None => false,
                    Some((_, theirs)) => match (starts, ends) {
                        (false, false) => mine == theirs,
                        (true, true) => mine.contains(theirs),
                        (true, false) => mine.starts_with(theirs),
                        (false, true) => mine.ends_with(theirs),
                    },
                }
            }
            Node::Regex(regex) => {
                let compiled = regex.compiled.get_or_init(|| {
                    regex::RegexBuilder::new(&regex.pattern)
                        .size_limit(64 << 20)
                        .build()
                        .ok()
                });
                match compiled {
                    Some(compiled) => match event.value(self, regex.field)?.texts() {
                        Some((original, _)) => compiled.is_match(original),
                        None => false,
                    },
                    None => {
                        let context = event.context(self)?;
                        regex
                            .fallback
                            .bind(event.py)
                            .call1((context,))?
                            .is_truthy()?
                    }
                }
            }
            Node::Python(predicate) => {
                let context = event.context(self)?;
                predicate.bind(event.py).call1((context,))?.is_truthy()?
            }
        })
    }
}

/// numeric.as_number of a text: plain digits here, anything else by Python's own definition.
fn number_of_text(
    text: &str,
    py: Python<'_>,
    as_number: &Py<PyAny>,
) -> Result<Option<f64>, Refusal> {
    if !text.is_empty() && text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(
            text.parse::<u64>().map_err(|_| Refusal::Fallback)? as f64
        ));
    }
    let found = as_number.bind(py).call1((text,))?;
    Ok(if found.is_none() {
        None
    } else {
        Some(found.extract::<f64>()?)
    })
}

#[pymethods]
impl NativeRoute {
    /// width: rules in the route; layers: clauses per rule (model.MAX_CLAUSES);
    /// start: (position, layer) hits before any literal; parents: path parts of each parent
    /// object; fields: (parent index, leaf name, exact, substrings, numbers) where each table is a
    /// list of (key, [(position, layer)]) or None; rules: (engine rule index, node) by position;
    /// context_class: EventContext; as_number: numeric.as_number; loads: orjson.loads.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        width: usize,
        layers: usize,
        start: &Bound<'_, PyAny>,
        parents: Vec<Vec<Bound<'_, PyString>>>,
        fields: &Bound<'_, PyList>,
        rules: &Bound<'_, PyList>,
        context_class: Py<PyAny>,
        as_number: Py<PyAny>,
        loads: Py<PyAny>,
    ) -> PyResult<Self> {
        if layers == 0 || layers > 8 {
            return Err(PyValueError::new_err("layers must be 1 to 8"));
        }
        let mut start_bits = vec![0u64; layers * width.div_ceil(64)];
        hits_of(start, width, layers)?.mark(&mut start_bits);
        let parent_names: Vec<Vec<String>> = parents
            .iter()
            .map(|parts| parts.iter().map(|p| p.to_string()).collect())
            .collect();
        let parents: Vec<Vec<Py<PyString>>> = parents
            .into_iter()
            .map(|parts| {
                parts
                    .into_iter()
                    .map(|p| PyString::intern(p.py(), p.to_str().unwrap_or("")).unbind())
                    .collect()
            })
            .collect();
        let mut field_list = Vec::new();
        for spec in fields.iter() {
            let spec = spec.cast::<PyTuple>()?;
            let parent: usize = spec.get_item(0)?.extract()?;
            if parent >= parents.len() {
                return Err(PyValueError::new_err(format!(
                    "parent {parent} not in the route"
                )));
            }
            let leaf: String = spec.get_item(1)?.extract()?;
            let (exact, substrings, numbers) =
                (spec.get_item(2)?, spec.get_item(3)?, spec.get_item(4)?);
            let prefilter = if exact.is_none() && substrings.is_none() && numbers.is_none() {
                None
            } else {
                let mut table = Prefilter {
                    exact: HashMap::default(),
                    substrings: None,
                    substring_hits: Vec::new(),
                    numbers: HashMap::new(),
                };
                if !exact.is_none() {
                    for item in exact.try_iter()? {
                        let item = item?;
                        let key: String = item.get_item(0)?.extract()?;
                        table
                            .exact
                            .insert(key, hits_of(&item.get_item(1)?, width, layers)?);
                    }
                }
                if !numbers.is_none() {
                    for item in numbers.try_iter()? {
                        let item = item?;
                        let key: f64 = item.get_item(0)?.extract()?;
                        table
                            .numbers
                            .insert(number_key(key), hits_of(&item.get_item(1)?, width, layers)?);
                    }
                }
                if !substrings.is_none() {
                    let mut patterns: Vec<Vec<u8>> = Vec::new();
                    for item in substrings.try_iter()? {
                        let item = item?;
                        patterns.push(item.get_item(0)?.extract()?);
                        table
                            .substring_hits
                            .push(hits_of(&item.get_item(1)?, width, layers)?);
                    }
                    if !patterns.is_empty() {
                        let automaton = Literals::build(&patterns).map_err(|e| {
                            PyValueError::new_err(format!("literal automaton: {e}"))
                        })?;
                        table.substrings = Some(automaton);
                    }
                }
                Some(table)
            };
            field_list.push(Field {
                parent,
                leaf: PyString::intern(spec.py(), &leaf).unbind(),
                leaf_name: leaf,
                prefilter,
            });
        }
        let mut rule_list = Vec::new();
        for item in rules.iter() {
            let (index, node): (usize, Bound<'_, PyAny>) = item.extract()?;
            rule_list.push((index, node_of(&node, field_list.len())?));
        }
        if rule_list.len() != width {
            return Err(PyValueError::new_err("one rule per position"));
        }
        let most_substrings = field_list
            .iter()
            .filter_map(|f| f.prefilter.as_ref().map(|p| p.substring_hits.len()))
            .max()
            .unwrap_or(0);
        Ok(NativeRoute {
            width,
            layers,
            start: start_bits,
            parents,
            fields: field_list,
            rules: rule_list,
            parent_names,
            context_class,
            as_number,
            loads,
            most_substrings,
        })
    }

    /// (engine indices of the rules that match in load order, [(engine index, exception)] of
    /// the rules whose Python condition raised), or None: the Python engine must take the event.
    fn match_event<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Decision>> {
        Ok(self
            .scanned(py, event)
            .and_then(|(state, positions)| self.decide(state, positions)))
    }

    /// match_event on an event read from its JSON bytes (JsonEvent.parse): Python objects are
    /// made only for the texts a Python condition or a non-ASCII fold needs.
    fn match_json(&self, py: Python<'_>, event: &Bound<'_, JsonEvent>) -> Option<Decision> {
        let event = event.get();
        let input = event.raw.as_bytes(py);
        let state = Event::new(py, self, Source::Json(event, input));
        self.scanned_from(state)
            .and_then(|(state, positions)| self.decide(state, positions))
    }

    /// Bytes the route's literal automata take (the cost of its pre-filter in memory).
    fn memory_bytes(&self) -> usize {
        self.fields
            .iter()
            .filter_map(|f| {
                f.prefilter
                    .as_ref()
                    .and_then(|p| p.substrings.as_ref())
                    .map(Literals::memory_usage)
            })
            .sum()
    }

    /// Engine indices of the rules the pre-filter lets through (a superset of the matches), or
    /// None when the Python engine must take the event.
    fn candidates<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Vec<usize>>> {
        Ok(self
            .scanned(py, event)
            .map(|(_, positions)| positions.into_iter().map(|p| self.rules[p].0).collect()))
    }
}

#[pymodule]
fn canhgac_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeRoute>()?;
    module.add_class::<JsonEvent>()?;
    module.add_class::<windows::EvtxMapper>()?;
    Ok(())
}
