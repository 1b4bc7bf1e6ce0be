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

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString, PyTuple};
use std::collections::{HashMap, HashSet};

/// Where a literal's hit goes: the rule's position in the route and the clause (layer) it serves.
#[derive(Clone, Copy)]
struct Hit {
    position: u32,
    layer_bit: u8,
}

type Hits = Vec<Hit>;

struct Prefilter {
    exact: HashMap<String, Hits>,
    substrings: Option<AhoCorasick>,
    substring_hits: Vec<Hits>,
    numbers: HashMap<u64, Hits>,
}

struct Field {
    parent: usize,
    leaf: Py<PyString>,
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
    Regex(usize, Box<regex::Regex>),
    Python(Py<PyAny>),
}

struct Strings {
    field: usize,
    cased: bool,
    anything: bool,
    exact: HashSet<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    contains: Vec<String>,
}

/// One field's value as the matchers see it: absent (missing or null) or one text.
enum Value {
    Absent,
    Text { original: String, folded: String, int: Option<i64> },
}

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

struct Event<'py> {
    py: Python<'py>,
    dict: Bound<'py, PyDict>,
    parents: Vec<Option<Option<Bound<'py, PyDict>>>>,
    values: Vec<Option<Value>>,
    context: Option<Bound<'py, PyAny>>,
}

#[pyclass(frozen, module = "canhgac_native")]
struct NativeRoute {
    width: usize,
    full: u8,
    start: Vec<u8>,
    parents: Vec<Vec<Py<PyString>>>,
    fields: Vec<Field>,
    rules: Vec<(usize, Node)>,
    context_class: Py<PyAny>,
    as_number: Py<PyAny>,
    most_substrings: usize,
}

fn hits_of(list: &Bound<'_, PyAny>, width: usize, layers: usize) -> PyResult<Hits> {
    let mut out = Vec::new();
    for item in list.try_iter()? {
        let (position, layer): (usize, usize) = item?.extract()?;
        if position >= width || layer >= layers {
            return Err(PyValueError::new_err(format!("hit ({position}, {layer}) outside the route")));
        }
        out.push(Hit { position: position as u32, layer_bit: 1 << layer });
    }
    Ok(out)
}

fn node_of(spec: &Bound<'_, PyAny>, fields: usize) -> PyResult<Node> {
    let tuple = spec.cast::<PyTuple>()?;
    let kind: String = tuple.get_item(0)?.extract()?;
    let field_at = |index: usize| -> PyResult<usize> {
        let field: usize = tuple.get_item(index)?.extract()?;
        if field >= fields {
            return Err(PyValueError::new_err(format!("field {field} not in the route")));
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
        "fieldref" => Node::FieldRef(field_at(1)?, field_at(2)?, tuple.get_item(3)?.extract()?, tuple.get_item(4)?.extract()?),
        "regex" => {
            let pattern: String = tuple.get_item(2)?.extract()?;
            match regex::RegexBuilder::new(&pattern).size_limit(64 << 20).build() {
                Ok(compiled) => Node::Regex(field_at(1)?, Box::new(compiled)),
                // not in this engine's syntax: the Python closure (RE2) evaluates it
                Err(_) => Node::Python(tuple.get_item(3)?.unbind()),
            }
        }
        "strings" => Node::Strings(Box::new(Strings {
            field: field_at(1)?,
            cased: tuple.get_item(2)?.extract()?,
            anything: tuple.get_item(3)?.extract()?,
            exact: tuple.get_item(4)?.extract::<Vec<String>>()?.into_iter().collect(),
            prefixes: tuple.get_item(5)?.extract()?,
            suffixes: tuple.get_item(6)?.extract()?,
            contains: tuple.get_item(7)?.extract()?,
        })),
        other => return Err(PyValueError::new_err(format!("unknown node {other:?}"))),
    })
}

impl Strings {
    fn holds(&self, value: &Value) -> bool {
        let Value::Text { original, folded, .. } = value else {
            return false;
        };
        let text = if self.cased { original } else { folded };
        self.anything
            || self.exact.contains(text.as_str())
            || self.prefixes.iter().any(|p| text.starts_with(p.as_str()))
            || self.suffixes.iter().any(|s| text.ends_with(s.as_str()))
            || self.contains.iter().any(|c| text.contains(c.as_str()))
    }
}

impl<'py> Event<'py> {
    fn parent(&mut self, route: &NativeRoute, index: usize) -> PyResult<Option<Bound<'py, PyDict>>> {
        if let Some(known) = &self.parents[index] {
            return Ok(known.clone());
        }
        let mut node: Bound<'py, PyDict> = self.dict.clone();
        let mut found = Some(());
        for part in &route.parents[index] {
            match node.get_item(part.bind(self.py))? {
                Some(child) => match child.cast_into::<PyDict>() {
                    Ok(dict) => node = dict,
                    Err(_) => {
                        found = None;
                        break;
                    }
                },
                None => {
                    found = None;
                    break;
                }
            }
        }
        let result = found.map(|_| node);
        self.parents[index] = Some(result.clone());
        Ok(result)
    }

    fn value(&mut self, route: &NativeRoute, index: usize) -> Result<&Value, Refusal> {
        if self.values[index].is_none() {
            let field = &route.fields[index];
            let value = match self.parent(route, field.parent)? {
                None => Value::Absent,
                Some(parent) => match parent.get_item(field.leaf.bind(self.py))? {
                    None => Value::Absent,
                    Some(raw) => read(&raw)?,
                },
            };
            self.values[index] = Some(value);
        }
        Ok(self.values[index].as_ref().unwrap())
    }

    fn context(&mut self, route: &NativeRoute) -> PyResult<Bound<'py, PyAny>> {
        if self.context.is_none() {
            self.context = Some(route.context_class.bind(self.py).call1((self.dict.clone(),))?);
        }
        Ok(self.context.as_ref().unwrap().clone())
    }
}

/// A scalar the way EventContext.texts/lowers read it, or Fallback for anything else.
fn read(raw: &Bound<'_, PyAny>) -> Result<Value, Refusal> {
    if raw.is_none() {
        return Ok(Value::Absent);
    }
    if let Ok(text) = raw.cast_exact::<PyString>() {
        let original = text.to_str().map_err(|_| Refusal::Fallback)?; // lone surrogates
        let folded = if original.is_ascii() {
            original.to_ascii_lowercase()
        } else {
            // str.casefold: the fold the rules' literals were made with (context.fold)
            let folded = text.call_method0("casefold")?;
            folded.cast::<PyString>().map_err(PyErr::from)?.to_str().map_err(|_| Refusal::Fallback)?.to_owned()
        };
        return Ok(Value::Text { original: original.to_owned(), folded, int: None });
    }
    if raw.is_exact_instance_of::<PyInt>() {
        let number: i64 = raw.extract().map_err(|_| Refusal::Fallback)?; // past i64: Python's
        let text = number.to_string();
        return Ok(Value::Text { original: text.clone(), folded: text, int: Some(number) });
    }
    Err(Refusal::Fallback)
}

impl NativeRoute {
    fn scan(&self, event: &mut Event<'_>, hits: &mut [u8]) -> Result<(), Refusal> {
        let py = event.py;
        let mut seen = vec![0u64; self.most_substrings.div_ceil(64)];
        for index in 0..self.fields.len() {
            let Some(prefilter) = &self.fields[index].prefilter else { continue };
            let Value::Text { original, folded, int } = event.value(self, index)? else { continue };
            let mut mark = |list: &Hits| {
                for hit in list {
                    hits[hit.position as usize] |= hit.layer_bit;
                }
            };
            if !prefilter.numbers.is_empty() {
                let number = match int {
                    Some(n) if (-EXACT_INT..=EXACT_INT).contains(n) => Some(*n as f64),
                    Some(_) => return Err(Refusal::Fallback),
                    None => number_of_text(original, py, &self.as_number)?,
                };
                if let Some(found) = number.and_then(|n| prefilter.numbers.get(&number_key(n))) {
                    mark(found);
                }
            }
            if let Some(found) = prefilter.exact.get(folded.as_str()) {
                mark(found);
            }
            if let Some(automaton) = &prefilter.substrings {
                // Overlapping search reports every occurrence; a literal's rules are marked once
                // (`\\` occurs ten times in a path and serves hundreds of rules).
                let mut found_here: Vec<u32> = Vec::new();
                for found in automaton.find_overlapping_iter(folded.as_bytes()) {
                    let pattern = found.pattern().as_usize();
                    let (word, bit) = (pattern / 64, 1u64 << (pattern % 64));
                    if seen[word] & bit == 0 {
                        seen[word] |= bit;
                        found_here.push(pattern as u32);
                        mark(&prefilter.substring_hits[pattern]);
                    }
                }
                for pattern in found_here {
                    seen[pattern as usize / 64] = 0;
                }
            }
        }
        Ok(())
    }

    fn holds(&self, node: &Node, event: &mut Event<'_>) -> Result<bool, Refusal> {
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
            Node::Exists(field, wanted) => !matches!(event.value(self, *field)?, Value::Absent) == *wanted,
            Node::FieldRef(field, other, starts, ends) => {
                let mine = match event.value(self, *field)? {
                    Value::Text { folded, .. } => folded.clone(),
                    Value::Absent => return Ok(false),
                };
                match event.value(self, *other)? {
                    Value::Absent => false,
                    Value::Text { folded: theirs, .. } => match (starts, ends) {
                        (false, false) => mine == *theirs,
                        (true, true) => mine.contains(theirs.as_str()),
                        (true, false) => mine.starts_with(theirs.as_str()),
                        (false, true) => mine.ends_with(theirs.as_str()),
                    },
                }
            }
            Node::Regex(field, compiled) => match event.value(self, *field)? {
                Value::Text { original, .. } => compiled.is_match(original),
                Value::Absent => false,
            },
            Node::Python(predicate) => {
                let context = event.context(self)?;
                predicate.bind(event.py).call1((context,))?.is_truthy()?
            }
        })
    }
}

/// numeric.as_number of a text: plain digits here, anything else by Python's own definition.
fn number_of_text(text: &str, py: Python<'_>, as_number: &Py<PyAny>) -> Result<Option<f64>, Refusal> {
    if !text.is_empty() && text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(text.parse::<u64>().map_err(|_| Refusal::Fallback)? as f64));
    }
    let found = as_number.bind(py).call1((text,))?;
    Ok(if found.is_none() { None } else { Some(found.extract::<f64>()?) })
}

#[pymethods]
impl NativeRoute {
    /// width: rules in the route; layers: clauses per rule (model.MAX_CLAUSES);
    /// start: (position, layer) hits before any literal; parents: path parts of each parent
    /// object; fields: (parent index, leaf name, exact, substrings, numbers) where each table is a
    /// list of (key, [(position, layer)]) or None; rules: (engine rule index, node) by position.
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
    ) -> PyResult<Self> {
        if layers == 0 || layers > 8 {
            return Err(PyValueError::new_err("layers must be 1 to 8"));
        }
        let mut start_bits = vec![0u8; width];
        for hit in hits_of(start, width, layers)? {
            start_bits[hit.position as usize] |= hit.layer_bit;
        }
        let parents: Vec<Vec<Py<PyString>>> = parents
            .into_iter()
            .map(|parts| parts.into_iter().map(|p| PyString::intern(p.py(), p.to_str().unwrap_or("")).unbind()).collect())
            .collect();
        let mut field_list = Vec::new();
        for spec in fields.iter() {
            let spec = spec.cast::<PyTuple>()?;
            let parent: usize = spec.get_item(0)?.extract()?;
            if parent >= parents.len() {
                return Err(PyValueError::new_err(format!("parent {parent} not in the route")));
            }
            let leaf: String = spec.get_item(1)?.extract()?;
            let (exact, substrings, numbers) = (spec.get_item(2)?, spec.get_item(3)?, spec.get_item(4)?);
            let prefilter = if exact.is_none() && substrings.is_none() && numbers.is_none() {
                None
            } else {
                let mut table = Prefilter {
                    exact: HashMap::new(),
                    substrings: None,
                    substring_hits: Vec::new(),
                    numbers: HashMap::new(),
                };
                if !exact.is_none() {
                    for item in exact.try_iter()? {
                        let item = item?;
                        let key: String = item.get_item(0)?.extract()?;
                        table.exact.insert(key, hits_of(&item.get_item(1)?, width, layers)?);
                    }
                }
                if !numbers.is_none() {
                    for item in numbers.try_iter()? {
                        let item = item?;
                        let key: f64 = item.get_item(0)?.extract()?;
                        table.numbers.insert(number_key(key), hits_of(&item.get_item(1)?, width, layers)?);
                    }
                }
                if !substrings.is_none() {
                    let mut patterns: Vec<Vec<u8>> = Vec::new();
                    for item in substrings.try_iter()? {
                        let item = item?;
                        patterns.push(item.get_item(0)?.extract()?);
                        table.substring_hits.push(hits_of(&item.get_item(1)?, width, layers)?);
                    }
                    if !patterns.is_empty() {
                        let kind = match std::env::var("CANHGAC_AC_KIND").as_deref() {
                            Ok("nfa") => Some(AhoCorasickKind::NoncontiguousNFA),
                            Ok("cnfa") => Some(AhoCorasickKind::ContiguousNFA),
                            Ok("auto") => None,
                            _ => Some(AhoCorasickKind::DFA),
                        };
                        let automaton = AhoCorasick::builder()
                            .match_kind(MatchKind::Standard)
                            .kind(kind)
                            .prefilter(std::env::var("CANHGAC_AC_PREFILTER").is_ok())
                            .build(&patterns)
                            .or_else(|_| AhoCorasick::builder().match_kind(MatchKind::Standard).build(&patterns))
                            .map_err(|e| PyValueError::new_err(format!("literal automaton: {e}")))?;
                        table.substrings = Some(automaton);
                    }
                }
                Some(table)
            };
            field_list.push(Field { parent, leaf: PyString::intern(spec.py(), &leaf).unbind(), prefilter });
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
            full: ((1u16 << layers) - 1) as u8,
            start: start_bits,
            parents,
            fields: field_list,
            rules: rule_list,
            context_class,
            as_number,
            most_substrings,
        })
    }

    /// (engine indices of the rules that match in load order, [(engine index, exception)] of
    /// the rules whose Python condition raised), or None: the Python engine must take the event.
    fn match_event<'py>(&self, py: Python<'py>, event: &Bound<'py, PyAny>) -> PyResult<Option<(Vec<usize>, Vec<(usize, PyErr)>)>> {
        let Ok(dict) = event.cast_exact::<PyDict>() else { return Ok(None) };
        for key in dict.keys() {
            // a top-level key holding a dotted name overrides the nested value (context.lookup)
            match key.cast_exact::<PyString>() {
                Ok(name) if !name.to_str().map(|s| s.contains('.')).unwrap_or(true) => {}
                _ => return Ok(None),
            }
        }
        let mut state = Event {
            py,
            dict: dict.clone(),
            parents: vec![None; self.parents.len()],
            values: (0..self.fields.len()).map(|_| None).collect(),
            context: None,
        };
        let mut hits = self.start.clone();
        match self.scan(&mut state, &mut hits) {
            Ok(()) => {}
            Err(Refusal::Fallback) => return Ok(None),
            Err(Refusal::Error(err)) => return Err(err),
        }
        let (mut found, mut failed) = (Vec::new(), Vec::new());
        for (position, bits) in hits.iter().enumerate().take(self.width) {
            if *bits != self.full {
                continue;
            }
            let (index, node) = &self.rules[position];
            match self.holds(node, &mut state) {
                Ok(true) => found.push(*index),
                Ok(false) => {}
                Err(Refusal::Fallback) => return Ok(None),
                Err(Refusal::Error(err)) => failed.push((*index, err)),
            }
        }
        Ok(Some((found, failed)))
    }

    /// Engine indices of the rules the pre-filter lets through (a superset of the matches), or
    /// None when the Python engine must take the event.
    fn candidates<'py>(&self, py: Python<'py>, event: &Bound<'py, PyAny>) -> PyResult<Option<Vec<usize>>> {
        let Ok(dict) = event.cast_exact::<PyDict>() else { return Ok(None) };
        let mut state = Event {
            py,
            dict: dict.clone(),
            parents: vec![None; self.parents.len()],
            values: (0..self.fields.len()).map(|_| None).collect(),
            context: None,
        };
        let mut hits = self.start.clone();
        match self.scan(&mut state, &mut hits) {
            Ok(()) => Ok(Some(
                hits.iter().enumerate().filter(|(_, b)| **b == self.full).map(|(p, _)| self.rules[p].0).collect(),
            )),
            Err(Refusal::Fallback) => Ok(None),
            Err(Refusal::Error(err)) => Err(err),
        }
    }
}

#[pymodule]
fn canhgac_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeRoute>()?;
    Ok(())
}
