//! Windows evtx_dump records turned into events in native code: the work of
//! pipeline/normalize/windows.py's `from_evtx_json` and windows_ecs.py's `apply_ecs`, which was
//! two thirds of the time of parse + match per Windows event in Python.
//!
//! Python stays the definition. The ECS tables come from windows_ecs.py (each field's writer with
//! its kind and path), the logsource from windows.py's `_derived` (cached here per channel and
//! event id, as there), and what is rare or subtle stays in Python: a writer of a kind not
//! written here (addresses, DNS answers, group members, network flags, Defender paths) is called
//! as the Python function it is, and so are `long_number` on text that is not plain ASCII digits and
//! `audit_outcome`. Where the Python code would read a value differently from this code (a
//! shape other than evtx_dump's usual one, UserData, non-ASCII text that a writer lower- or
//! upper-cases, a dict subclass) `EvtxMapper.event` returns None before anything is shared, and
//! the caller runs the Python mapping: the result is the same event either way, which the tests
//! check byte for byte on the corpus and on generated records.

use crate::fx::FxBuild;
use crate::json::{self, Doc, Kind as JsonKind, Node};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

/// Windows writes these for "no value": the writers leave such fields out (windows_ecs._NONE_VALUES).
const NONE_VALUES: [&str; 4] = ["", "-", "S-1-0-0", "{00000000-0000-0000-0000-000000000000}"];
const HASH_ALGORITHMS: [&str; 5] = ["md5", "sha1", "sha256", "sha384", "sha512"];
const HIVES: [(&str, &str); 10] = [
    ("HKEY_CLASSES_ROOT", "HKCR"),
    ("HKCR", "HKCR"),
    ("HKEY_CURRENT_CONFIG", "HKCC"),
    ("HKCC", "HKCC"),
    ("HKEY_CURRENT_USER", "HKCU"),
    ("HKCU", "HKCU"),
    ("HKEY_LOCAL_MACHINE", "HKLM"),
    ("HKLM", "HKLM"),
    ("HKEY_USERS", "HKU"),
    ("HKU", "HKU"),
];
const MAX_LONG: u128 = i64::MAX as u128;
/// Logsources cached per (channel, event id), bounded like windows._DERIVED.
const DERIVED_MAX: usize = 4096;

/// What a field's writer does (windows_ecs.py's writer of the same name).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Keyword,
    Long,
    Pid,
    Port,
    Executable,
    UserName,
    DomainUser,
    Hashes,
    FilePath,
    RegistryPath,
    RegistryData,
    /// called as the Python writer
    Python,
}

struct Field {
    name: Py<PyString>,
    kind: Kind,
    /// the leaf's parents (keyword, long, pid, port) or the prefix (executable, users, hashes)
    path: Vec<Py<PyString>>,
    leaf: Option<Py<PyString>>,
    python: Py<PyAny>,
}

struct Spec {
    category: Vec<Py<PyString>>,
    types: Vec<Py<PyString>>,
    action: Py<PyString>,
    outcome: Option<Py<PyString>>,
    fields: Vec<Field>,
}

/// A logsource dict (copied for each event) and its dataset.
type Derived = (Py<PyDict>, Py<PyAny>);

/// The evtx_dump mapping. `EvtxMapper.event(record)` is `from_evtx_json(record)`, or None when
/// the record is left to it.
#[pyclass(module = "canhgac_native", frozen)]
pub struct EvtxMapper {
    tables: HashMap<String, HashMap<i64, Spec>>,
    derived: Py<PyAny>,
    audit_outcome: Py<PyAny>,
    number: Py<PyAny>,
    sysmon_channel: String,
    cache: Mutex<Cache>,
    /// EventData names read from JSON text → their string, seeded with the tables' names: the
    /// same few dozen names fill every record, and a table's own string object makes the
    /// writers' lookups of it hit at once (no new string to hash, no text to compare).
    names: Mutex<Names>,
}

type Names = HashMap<Box<[u8]>, Py<PyString>, FxBuild>;
/// windows._derived's answers by channel, then event id: a hit is looked up by the record's own
/// channel text (no key string made per record; one is made on a miss).
#[derive(Default)]
struct Cache {
    by_channel: HashMap<String, HashMap<Option<i64>, Derived, FxBuild>, FxBuild>,
    len: usize,
}
/// Names kept at most (a sender's odd names past this are made each time).
const NAMES_MAX: usize = 16384;

/// Stops the mapping: the record goes to the Python mapping (or an error was raised here, which
/// the Python mapping raises the same way or reads differently).
fn refuse() -> PyErr {
    PyValueError::new_err("left to the Python mapping")
}

fn kind_of(name: &str) -> Kind {
    match name {
        "keyword" => Kind::Keyword,
        "long" => Kind::Long,
        "pid" => Kind::Pid,
        "port" => Kind::Port,
        "executable" => Kind::Executable,
        "user_name" => Kind::UserName,
        "domain_user" => Kind::DomainUser,
        "hashes" => Kind::Hashes,
        "file_path" => Kind::FilePath,
        "registry_path" => Kind::RegistryPath,
        "registry_data" => Kind::RegistryData,
        _ => Kind::Python,
    }
}

#[pymethods]
impl EvtxMapper {
    /// `tables`: (service, event id, categories, types, action, outcome, fields) per entry, each
    /// field (event-data name, writer kind, dotted path, the Python writer); `derived`,
    /// `audit_outcome`, `number`: windows._derived, windows_ecs.audit_outcome, windows_ecs.long_number.
    #[new]
    fn new(
        py: Python<'_>,
        tables: &Bound<'_, PyAny>,
        derived: Py<PyAny>,
        audit_outcome: Py<PyAny>,
        number: Py<PyAny>,
        sysmon_channel: String,
    ) -> PyResult<Self> {
        let mut by_service: HashMap<String, HashMap<i64, Spec>> = HashMap::new();
        let mut names = Names::default();
        for entry in tables.try_iter()? {
            #[allow(clippy::type_complexity)]
            let (service, event_id, category, types, action, outcome, fields): (
                String,
                i64,
                Vec<String>,
                Vec<String>,
                String,
                Option<String>,
                Vec<(String, String, String, Py<PyAny>)>,
            ) = entry?.extract()?;
            let strings = |items: &[String]| {
                items
                    .iter()
                    .map(|s| PyString::intern(py, s).unbind())
                    .collect()
            };
            let fields = fields
                .into_iter()
                .map(|(name, kind, dotted, python)| {
                    let kind = kind_of(&kind);
                    let mut path: Vec<Py<PyString>> = if dotted.is_empty() {
                        Vec::new()
                    } else {
                        dotted
                            .split('.')
                            .map(|p| PyString::intern(py, p).unbind())
                            .collect()
                    };
                    let leaf = match kind {
                        Kind::Keyword | Kind::Long | Kind::Pid | Kind::Port => {
                            Some(path.pop().ok_or_else(|| {
                                PyValueError::new_err("a leaf writer needs a path")
                            })?)
                        }
                        _ => None,
                    };
                    Ok(Field {
                        name: {
                            let interned = PyString::intern(py, &name).unbind();
                            names.insert(name.as_bytes().into(), interned.clone_ref(py));
                            interned
                        },
                        kind,
                        path,
                        leaf,
                        python,
                    })
                })
                .collect::<PyResult<Vec<_>>>()?;
            let spec = Spec {
                category: strings(&category),
                types: strings(&types),
                action: PyString::intern(py, &action).unbind(),
                outcome: outcome.map(|o| PyString::intern(py, &o).unbind()),
                fields,
            };
            by_service
                .entry(service)
                .or_default()
                .insert(event_id, spec);
        }
        Ok(EvtxMapper {
            tables: by_service,
            derived,
            audit_outcome,
            number,
            sysmon_channel,
            cache: Mutex::new(Cache::default()),
            names: Mutex::new(names),
        })
    }

    /// The event of an evtx_dump record (orjson's dict), or None when the Python mapping must
    /// make it.
    fn event<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyDict>> {
        // busy: another thread is inside a Python call of ours (a writer, `_derived`); it takes
        // the Python mapping rather than waiting for the lock while holding the GIL
        let mut cache = self.cache.try_lock().ok()?;
        let record = DictRecord::new(py, record).ok()?;
        self.map(py, &mut cache, &record).ok()
    }

    /// The event of an evtx_dump record given as its JSON text (bytes or str), read natively
    /// without making the record's dicts; None when orjson must read it (then `event`, or the
    /// Python mapping): what json.rs leaves to orjson, a float, bool, list or integer past i64
    /// in a value it reads, or a shape `event` would leave to Python.
    fn event_json<'py>(
        &self,
        py: Python<'py>,
        raw: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyDict>> {
        let input: &[u8] = match raw.cast::<PyBytes>() {
            Ok(bytes) => bytes.as_bytes(),
            Err(_) => raw.cast::<PyString>().ok()?.to_str().ok()?.as_bytes(),
        };
        let (mut cache, mut names) = (self.cache.try_lock().ok()?, self.names.try_lock().ok()?);
        let names_now = RefCell::new(std::mem::take(&mut *names));
        let event = JsonRecord::new(py, input, &names_now)
            .and_then(|record| self.map(py, &mut cache, &record).ok());
        *names = names_now.into_inner();
        event
    }
}

/// A dict that is exactly a dict (what orjson makes), else None; a dict subclass is refused.
fn exact_dict<'py>(value: Option<Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyDict>>> {
    match value {
        Some(value) if value.is_instance_of::<PyDict>() => Ok(Some(
            value.cast_into_exact::<PyDict>().map_err(|_| refuse())?,
        )),
        _ => Ok(None),
    }
}

/// windows._attrs: the node's `#attributes` object, if it has one.
fn attributes<'py>(node: Option<Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyDict>>> {
    match exact_dict(node)? {
        Some(node) => exact_dict(node.get_item(intern!(node.py(), "#attributes"))?),
        None => Ok(None),
    }
}

fn get<'py>(
    dict: &Option<Bound<'py, PyDict>>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match dict {
        Some(dict) => Ok(dict.get_item(key)?.filter(|v| !v.is_none())),
        None => Ok(None),
    }
}

/// An empty dict with room for `size` keys: the event's big dicts, made without growing them
/// key by key (what a Python dict display does).
fn presized(py: Python<'_>, size: isize) -> Bound<'_, PyDict> {
    // SAFETY: a new reference to a new dict (NULL only when out of memory, where PyDict::new panics too)
    unsafe {
        Bound::from_owned_ptr(py, pyo3::ffi::_PyDict_NewPresized(size))
            .cast_into_unchecked::<PyDict>()
    }
}

/// `dict.setdefault(key, value)` without its result: one lookup.
fn set_default(
    node: &Bound<'_, PyDict>,
    key: &Bound<'_, PyString>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: three live objects; the result is a borrowed reference, or NULL with an exception set.
    let found = unsafe { PyDict_SetDefault(node.as_ptr(), key.as_ptr(), value.as_ptr()) };
    if found.is_null() {
        return Err(PyErr::fetch(node.py()));
    }
    Ok(())
}

extern "C" {
    // CPython's C API (not in pyo3-ffi): a borrowed reference to the value now under `key`.
    fn PyDict_SetDefault(
        dict: *mut pyo3::ffi::PyObject,
        key: *mut pyo3::ffi::PyObject,
        default: *mut pyo3::ffi::PyObject,
    ) -> *mut pyo3::ffi::PyObject;
}

/// windows_ecs._node: the dict at `path`, made (or replacing a non-dict) where missing.
fn node_at<'py>(event: &Bound<'py, PyDict>, path: &[Py<PyString>]) -> PyResult<Bound<'py, PyDict>> {
    let py = event.py();
    let mut node = event.clone();
    for part in path {
        node = child(&node, part.bind(py))?;
    }
    Ok(node)
}

/// `node[key]` when it is a dict, else a new dict put there.
fn child<'py>(
    node: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyDict>> {
    if let Some(found) = node.get_item(key)? {
        if let Ok(found) = found.cast_into_exact::<PyDict>() {
            return Ok(found);
        }
    }
    let made = PyDict::new(node.py());
    node.set_item(key, &made)?;
    Ok(made)
}

/// Python's str.isspace for an ASCII byte (it counts the separators 0x1c–0x1f, Rust does not).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn py_strip(text: &str) -> &str {
    text.trim_matches(py_space)
}

/// windows_ecs._text: the text of a value, None for "no value" or a type without one.
fn text_of<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyString>>> {
    if let Ok(text) = value.cast_exact::<PyString>() {
        let s = text.to_str()?;
        let edge = |c: Option<char>| matches!(c, Some(' ' | '\t' | '\r' | '\n'));
        if NONE_VALUES.contains(&s)
            || ((edge(s.chars().next()) || edge(s.chars().next_back()))
                && NONE_VALUES.contains(&py_strip(s)))
        {
            return Ok(None);
        }
        return Ok(Some(text.clone()));
    }
    if value.is_none() || value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Ok(None);
    }
    Ok(Some(value.str()?))
}

/// `text` after its last `sep` (all of it without one): str.rsplit(sep, 1)[-1].
fn after_last(text: &str, sep: char) -> &str {
    text.rfind(sep)
        .map_or(text, |at| &text[at + sep.len_utf8()..])
}

/// The same text object when `part` is all of `text`, else a new string.
fn piece<'py>(text: &Bound<'py, PyString>, whole: &str, part: &str) -> Bound<'py, PyString> {
    if part.len() == whole.len() {
        text.clone()
    } else {
        PyString::new(text.py(), part)
    }
}

/// `event.setdefault("related", {}).setdefault(kind, [])`.
fn related<'py>(
    event: &Bound<'py, PyDict>,
    kind: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyList>> {
    let py = event.py();
    let related = match event.get_item(intern!(py, "related"))? {
        Some(found) => found.cast_into_exact::<PyDict>().map_err(|_| refuse())?,
        None => {
            let made = PyDict::new(py);
            event.set_item(intern!(py, "related"), &made)?;
            made
        }
    };
    match related.get_item(kind)? {
        Some(found) => found.cast_into_exact::<PyList>().map_err(|_| refuse()),
        None => {
            let made = PyList::empty(py);
            related.set_item(kind, &made)?;
            Ok(made)
        }
    }
}

/// fieldvalues.add_related: `related.<kind>` gets the value once.
fn add_related(
    event: &Bound<'_, PyDict>,
    kind: &Bound<'_, PyString>,
    value: &Bound<'_, PyString>,
) -> PyResult<()> {
    if value.to_str()?.is_empty() {
        return Ok(());
    }
    let values = related(event, kind)?;
    if !values.contains(value)? {
        values.append(value)?;
    }
    Ok(())
}

impl EvtxMapper {
    fn map<'py>(
        &self,
        py: Python<'py>,
        cache: &mut Cache,
        record: &impl Record<'py>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let event_id = record.value(intern!(py, "EventID"))?;
        if event_id
            .as_ref()
            .is_some_and(|id| !id.is_exact_instance_of::<PyInt>())
        {
            return Err(refuse()); // a string or {"#text": …}: windows._int reads it
        }

        // winlog, its None values left out (as windows.py filters them)
        let winlog = presized(py, 14);
        let put = |key: &Bound<'py, PyString>, value: Option<Bound<'py, PyAny>>| -> PyResult<()> {
            match value {
                Some(value) => winlog.set_item(key, value),
                None => Ok(()),
            }
        };
        put(
            intern!(py, "channel"),
            record.value(intern!(py, "Channel"))?,
        )?;
        put(intern!(py, "event_id"), event_id.clone())?;
        put(
            intern!(py, "provider_name"),
            record.attribute(intern!(py, "Provider"), intern!(py, "Name"))?,
        )?;
        put(
            intern!(py, "provider_guid"),
            record.attribute(intern!(py, "Provider"), intern!(py, "Guid"))?,
        )?;
        put(
            intern!(py, "computer_name"),
            record.value(intern!(py, "Computer"))?,
        )?;
        put(
            intern!(py, "record_id"),
            record.value(intern!(py, "EventRecordID"))?,
        )?;
        put(intern!(py, "level"), record.value(intern!(py, "Level"))?)?;
        put(
            intern!(py, "keywords"),
            record.value(intern!(py, "Keywords"))?,
        )?;
        put(intern!(py, "opcode"), record.value(intern!(py, "Opcode"))?)?;
        put(intern!(py, "task"), record.value(intern!(py, "Task"))?)?;
        put(
            intern!(py, "version"),
            record.value(intern!(py, "Version"))?,
        )?;
        let pid = record.attribute(intern!(py, "Execution"), intern!(py, "ProcessID"))?;
        let tid = record.attribute(intern!(py, "Execution"), intern!(py, "ThreadID"))?;
        if pid.is_some() || tid.is_some() {
            let process = PyDict::new(py);
            process.set_item(intern!(py, "pid"), pid)?;
            let thread = PyDict::new(py);
            thread.set_item(intern!(py, "id"), tid)?;
            process.set_item(intern!(py, "thread"), thread)?;
            winlog.set_item(intern!(py, "process"), process)?;
        }
        if let Some(user) = record.attribute(intern!(py, "Security"), intern!(py, "UserID"))? {
            if user.is_truthy()? {
                let identifier = PyDict::new(py);
                identifier.set_item(intern!(py, "identifier"), user)?;
                winlog.set_item(intern!(py, "user"), identifier)?;
            }
        }
        let event_data = record.event_data()?;
        if let Some(data) = &event_data {
            winlog.set_item(intern!(py, "event_data"), data)?;
        }

        let event = presized(py, 12);
        if let Some(time) =
            record.attribute(intern!(py, "TimeCreated"), intern!(py, "SystemTime"))?
        {
            if time.is_instance_of::<PyString>() {
                event.set_item(intern!(py, "@timestamp"), time)?;
            }
        }
        // windows._finish
        let channel = winlog.get_item(intern!(py, "channel"))?;
        let data_for_derive = match &event_data {
            Some(data) => data.clone(),
            None => PyDict::new(py),
        };
        let (logsource, dataset) = self.derived(py, cache, channel, &event_id, &data_for_derive)?;
        let canhgac = PyDict::new(py);
        canhgac.set_item(intern!(py, "logsource"), &logsource)?;
        event.set_item(intern!(py, "canhgac"), &canhgac)?;
        event.set_item(intern!(py, "winlog"), &winlog)?;
        let ecs_event = presized(py, 8);
        event.set_item(intern!(py, "event"), &ecs_event)?;
        if let Some(id) = &event_id {
            ecs_event.set_item(intern!(py, "code"), id.str()?)?;
        }
        if let Some(provider) = winlog.get_item(intern!(py, "provider_name"))? {
            if provider.is_truthy()? {
                ecs_event.set_item(intern!(py, "provider"), provider)?;
            }
        }
        if let Some(computer) = winlog.get_item(intern!(py, "computer_name"))? {
            if computer.is_truthy()? {
                let host = PyDict::new(py);
                host.set_item(intern!(py, "name"), computer)?;
                event.set_item(intern!(py, "host"), host)?;
            }
        }
        canhgac.set_item(intern!(py, "dataset"), dataset)?;
        let service = logsource.get_item(intern!(py, "service"))?;
        self.apply_ecs(&event, &ecs_event, service, &event_id, &winlog, event_data)?;
        Ok(event)
    }

    /// windows._derived, cached per (channel, event id) as there; Sysmon 12 (its category depends
    /// on EventType) and non-ASCII channels are asked of Python every time.
    fn derived<'py>(
        &self,
        py: Python<'py>,
        cache: &mut Cache,
        channel: Option<Bound<'py, PyAny>>,
        event_id: &Option<Bound<'py, PyAny>>,
        event_data: &Bound<'py, PyDict>,
    ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyAny>)> {
        let id: Option<i64> = match event_id {
            Some(id) => Some(id.extract().map_err(|_| refuse())?),
            None => None,
        };
        let text = match &channel {
            Some(channel) => match channel.cast_exact::<PyString>() {
                Ok(text) => Some(text.to_str()?),
                Err(_) => None,
            },
            None => None,
        };
        let cacheable = text.filter(|text| {
            let sysmon_12 = id == Some(12) && text.eq_ignore_ascii_case(&self.sysmon_channel);
            text.is_ascii() && !sysmon_12
        });
        if let Some(text) = cacheable {
            let hit = cache.by_channel.get(text).and_then(|ids| ids.get(&id));
            if let Some((logsource, dataset)) = hit {
                return Ok((logsource.bind(py).copy()?, dataset.bind(py).clone()));
            }
        }
        let key = cacheable.map(str::to_owned);
        let found = self
            .derived
            .bind(py)
            .call1((channel, event_id, event_data))?;
        let (logsource, dataset): (Bound<'py, PyDict>, Bound<'py, PyAny>) = found.extract()?;
        if let Some(key) = key {
            if cache.len < DERIVED_MAX {
                let kept = (logsource.copy()?.unbind(), dataset.clone().unbind());
                let ids = cache.by_channel.entry(key).or_default();
                if ids.insert(id, kept).is_none() {
                    cache.len += 1;
                }
            }
        }
        Ok((logsource, dataset))
    }

    /// windows_ecs.apply_ecs.
    fn apply_ecs<'py>(
        &self,
        event: &Bound<'py, PyDict>,
        ecs_event: &Bound<'py, PyDict>,
        service: Option<Bound<'py, PyAny>>,
        event_id: &Option<Bound<'py, PyAny>>,
        winlog: &Bound<'py, PyDict>,
        event_data: Option<Bound<'py, PyDict>>,
    ) -> PyResult<()> {
        let py = event.py();
        let (Some(service), Some(event_id)) = (service, event_id) else {
            return Ok(());
        };
        let service_name = service
            .cast_exact::<PyString>()
            .map_err(|_| refuse())?
            .to_str()?;
        let Some(table) = self.tables.get(service_name) else {
            return Ok(());
        };
        let Some(spec) = event_id.extract::<i64>().ok().and_then(|id| table.get(&id)) else {
            return Ok(());
        };
        let list = |items: &[Py<PyString>]| PyList::new(py, items.iter().map(|s| s.bind(py)));
        ecs_event.set_item(intern!(py, "category"), list(&spec.category)?)?;
        ecs_event.set_item(intern!(py, "type"), list(&spec.types)?)?;
        ecs_event.set_item(intern!(py, "action"), spec.action.bind(py))?;
        let outcome = match &spec.outcome {
            Some(outcome) => Some(outcome.bind(py).clone().into_any()),
            None if service_name == "security" => {
                let keywords = winlog.get_item(intern!(py, "keywords"))?;
                Some(self.audit_outcome.bind(py).call1((keywords,))?).filter(|o| !o.is_none())
            }
            None => None,
        };
        if let Some(outcome) = outcome {
            set_default(ecs_event, intern!(py, "outcome"), &outcome)?;
        }
        let Some(data) = event_data else {
            return Ok(());
        };
        if data.is_empty() {
            return Ok(());
        }
        for field in &spec.fields {
            if let Some(value) = data.get_item(field.name.bind(py))? {
                if !value.is_none() {
                    self.write(event, field, &value)?;
                }
            }
        }
        Ok(())
    }

    /// windows_ecs.long_number: a non-negative long from an int or decimal / `0x` text.
    fn number<'py>(&self, value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = value.py();
        if value.is_instance_of::<PyBool>() {
            return Ok(None);
        }
        if value.is_instance_of::<PyInt>() {
            return Ok(match value.extract::<i64>() {
                Ok(n) if n >= 0 => Some(value.clone()),
                _ => None,
            });
        }
        let Ok(text) = value.cast_exact::<PyString>() else {
            return self
                .number
                .bind(py)
                .call1((value,))
                .map(|n| Some(n).filter(|n| !n.is_none()));
        };
        let s = text.to_str()?;
        if s.is_empty() || (s.is_ascii() && s.len() > 20) {
            return Ok(None);
        }
        let (digits, radix) = match s.as_bytes() {
            [b'0', b'x' | b'X', ..] => (&s[2..], 16),
            _ => (s, 10),
        };
        let plain = !digits.is_empty()
            && digits.bytes().all(|b| {
                if radix == 16 {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            });
        if !plain {
            // signs, underscores, spaces, other scripts' digits: Python's int() decides
            let found = self.number.bind(py).call1((value,))?;
            return Ok(Some(found).filter(|n| !n.is_none()));
        }
        let n = u128::from_str_radix(digits, radix).map_err(|_| refuse())?;
        Ok((n <= MAX_LONG).then(|| PyInt::new(py, n as i64).into_any()))
    }

    fn write<'py>(
        &self,
        event: &Bound<'py, PyDict>,
        field: &Field,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let py = event.py();
        let python = || field.python.bind(py).call1((event, value)).map(|_| ());
        match field.kind {
            Kind::Python => python(),
            Kind::Keyword => {
                if let Some(text) = text_of(value)? {
                    set_default(&node_at(event, &field.path)?, leaf(py, field), &text)?;
                }
                Ok(())
            }
            Kind::Long | Kind::Pid | Kind::Port => {
                let Some(number) = self.number(value)? else {
                    return Ok(());
                };
                let n: i64 = number.extract()?;
                let keep = match field.kind {
                    Kind::Pid => n != 0,
                    Kind::Port => 0 < n && n <= 65535,
                    _ => true,
                };
                if keep {
                    set_default(&node_at(event, &field.path)?, leaf(py, field), &number)?;
                }
                Ok(())
            }
            Kind::Executable => {
                let Some(text) = text_of(value)? else {
                    return Ok(());
                };
                let s = text.to_str()?;
                let name = piece(&text, s, after_last(s, '\\'));
                let node = node_at(event, &field.path)?;
                set_default(&node, intern!(py, "executable"), &text)?;
                set_default(&node, intern!(py, "name"), &name)
            }
            Kind::UserName => {
                let Some(text) = text_of(value)? else {
                    return Ok(());
                };
                let s = text.to_str()?;
                let before = s.split('@').next().unwrap_or(s);
                let name = if before.is_empty() {
                    text.clone()
                } else {
                    piece(&text, s, before)
                };
                set_default(&node_at(event, &field.path)?, intern!(py, "name"), &name)?;
                add_related(event, intern!(py, "user"), &name)
            }
            Kind::DomainUser => {
                let Some(text) = text_of(value)? else {
                    return Ok(());
                };
                let s = text.to_str()?;
                let (domain, name) = match s.rfind('\\') {
                    Some(at) => (&s[..at], &s[at + 1..]),
                    None => ("", s),
                };
                let name = piece(&text, s, name);
                let node = node_at(event, &field.path)?;
                if !domain.is_empty() {
                    set_default(&node, intern!(py, "domain"), &PyString::new(py, domain))?;
                }
                set_default(&node, intern!(py, "name"), &name)?;
                add_related(event, intern!(py, "user"), &name)
            }
            Kind::Hashes => hashes(event, field, value),
            Kind::FilePath => file_path(event, value, python),
            Kind::RegistryPath => {
                let Some(text) = text_of(value)? else {
                    return Ok(());
                };
                let s = text.to_str()?;
                let (hive, key) = s.split_once('\\').unwrap_or((s, ""));
                if !hive.is_ascii() {
                    return python(); // str.upper() maps some non-ASCII letters to ASCII ones
                }
                let short = HIVES
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(hive))
                    .map(|(_, short)| *short);
                let node = child(event, intern!(py, "registry"))?;
                set_default(&node, intern!(py, "path"), &text)?;
                if let Some(short) = short {
                    set_default(&node, intern!(py, "hive"), &PyString::new(py, short))?;
                    if !key.is_empty() {
                        set_default(&node, intern!(py, "key"), &PyString::new(py, key))?;
                    }
                }
                set_default(
                    &node,
                    intern!(py, "value"),
                    &piece(&text, s, after_last(s, '\\')),
                )
            }
            Kind::RegistryData => {
                let Some(text) = text_of(value)? else {
                    return Ok(());
                };
                let s = text.to_str()?;
                let closed = s.ends_with(')');
                let (kind, data) = if s.starts_with("DWORD (0x") && closed {
                    match self.number(PyString::new(py, &s[7..s.len() - 1]).as_any())? {
                        Some(number) => ("SZ_DWORD", number.str()?),
                        None => ("REG_SZ", text.clone()),
                    }
                } else if s.starts_with("QWORD (0x") && closed {
                    return python();
                } else if s == "Binary Data" {
                    ("REG_BINARY", text.clone())
                } else {
                    ("REG_SZ", text.clone())
                };
                let node = child(event, intern!(py, "registry"))?;
                if !node.contains(intern!(py, "data"))? {
                    let data_node = PyDict::new(py);
                    data_node.set_item(intern!(py, "strings"), PyList::new(py, [data])?)?;
                    data_node.set_item(intern!(py, "type"), kind)?;
                    node.set_item(intern!(py, "data"), data_node)?;
                }
                Ok(())
            }
        }
    }
}

/// `path` with one more part.
fn extended(
    py: Python<'_>,
    path: &[Py<PyString>],
    part: &Bound<'_, PyString>,
) -> Vec<Py<PyString>> {
    path.iter()
        .map(|p| p.clone_ref(py))
        .chain(std::iter::once(part.clone().unbind()))
        .collect()
}

/// windows_ecs.hashes: Sysmon's `SHA256=…,MD5=…,IMPHASH=…`.
fn hashes<'py>(
    event: &Bound<'py, PyDict>,
    field: &Field,
    value: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let py = event.py();
    let Ok(text) = value.cast::<PyString>() else {
        return Ok(());
    };
    let s = text.to_str()?;
    if !s.contains('=') {
        return Ok(());
    }
    if !s.is_ascii() {
        return field.python.bind(py).call1((event, value)).map(|_| ()); // Unicode lower-casing
    }
    let lower = s.to_ascii_lowercase();
    // a dict's order: a repeated algorithm keeps its first place and its last digest
    let mut found: Vec<(&str, &str)> = Vec::new();
    for pair in lower.split(',') {
        let (algorithm, digest) = pair.split_once('=').unwrap_or((pair, ""));
        let (algorithm, digest) = (py_strip(algorithm), py_strip(digest));
        if digest.is_empty() || digest.trim_matches('0').is_empty() {
            continue; // Sysmon writes zeros for "not computed"
        }
        match found.iter_mut().find(|(a, _)| *a == algorithm) {
            Some(entry) => entry.1 = digest,
            None => found.push((algorithm, digest)),
        }
    }
    if let Some(at) = found.iter().position(|(a, _)| *a == "imphash") {
        let (_, imphash) = found.remove(at);
        let pe = extended(py, &field.path, intern!(py, "pe"));
        set_default(
            &node_at(event, &pe)?,
            intern!(py, "imphash"),
            &PyString::new(py, imphash),
        )?;
    }
    found.retain(|(a, _)| HASH_ALGORITHMS.contains(a));
    if found.is_empty() {
        return Ok(());
    }
    let path = extended(py, &field.path, intern!(py, "hash"));
    let node = node_at(event, &path)?;
    let digests: Vec<Bound<'py, PyString>> =
        found.iter().map(|(_, d)| PyString::new(py, d)).collect();
    for ((algorithm, _), digest) in found.iter().zip(&digests) {
        set_default(&node, &PyString::new(py, algorithm), digest)?;
    }
    let values = related(event, intern!(py, "hash"))?;
    for digest in digests {
        if !values.contains(&digest)? {
            values.append(digest)?;
        }
    }
    Ok(())
}

fn leaf<'a, 'py>(py: Python<'py>, field: &'a Field) -> &'a Bound<'py, PyString> {
    field
        .leaf
        .as_ref()
        .expect("leaf writers have a leaf")
        .bind(py)
}

/// windows_ecs.file_path: file.path, directory, name and extension.
fn file_path<'py>(
    event: &Bound<'py, PyDict>,
    value: &Bound<'py, PyAny>,
    python: impl Fn() -> PyResult<()>,
) -> PyResult<()> {
    let py = event.py();
    let Some(text) = text_of(value)? else {
        return Ok(());
    };
    let s = text.to_str()?;
    let (directory, name) = match s.rfind('\\') {
        Some(at) => (Some(&s[..at]), &s[at + 1..]),
        None => (None, s),
    };
    let stem = name.split(':').next().unwrap_or(name); // an alternate data stream: "x.iso:Zone.Identifier"
    let extension = stem.rfind('.').map(|at| &stem[at + 1..]);
    if extension.is_some_and(|e| !e.is_ascii()) {
        return python(); // str.lower() of other scripts
    }
    let node = child(event, intern!(py, "file"))?;
    set_default(&node, intern!(py, "path"), &text)?;
    if let Some(directory) = directory {
        set_default(
            &node,
            intern!(py, "directory"),
            &PyString::new(py, directory),
        )?;
    }
    set_default(&node, intern!(py, "name"), &piece(&text, s, name))?;
    if let Some(extension) = extension {
        set_default(
            &node,
            intern!(py, "extension"),
            &PyString::new(py, &extension.to_ascii_lowercase()),
        )?;
    }
    Ok(())
}

/// windows._data_fields for evtx_dump's usual mapping form (no `Data` list, no attributes, no
/// nested objects): a copy, names with spaces (Defender's `Threat Name`) without them. Other
/// forms go to the Python mapping.
fn event_data_of<'py>(node: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let py = node.py();
    if !node.is_instance_of::<PyDict>() {
        return Ok(PyDict::new(py));
    }
    let node = node.cast_exact::<PyDict>().map_err(|_| refuse())?;
    let mut spaced = false;
    for (key, value) in node.iter() {
        let key = key
            .cast_exact::<PyString>()
            .map_err(|_| refuse())?
            .to_str()?;
        let plain = value.is_none()
            || value.is_exact_instance_of::<PyString>()
            || value.is_exact_instance_of::<PyInt>()
            || value.is_exact_instance_of::<PyFloat>()
            || value.is_exact_instance_of::<PyBool>()
            || value.is_exact_instance_of::<PyList>();
        if !plain || key == "Data" || key == "#attributes" {
            return Err(refuse());
        }
        spaced |= key.contains(' ');
    }
    if !spaced {
        return node.copy();
    }
    // key by key, as windows._data_fields does: a name that loses its spaces onto another's
    // takes that one's place
    let out = PyDict::new(py);
    for (key, value) in node.iter() {
        let name = key
            .cast_exact::<PyString>()
            .map_err(|_| refuse())?
            .to_str()?;
        if name.contains(' ') {
            out.set_item(name.replace(' ', ""), value)?;
        } else {
            out.set_item(key, value)?;
        }
    }
    Ok(out)
}

/// A Python str of `text`; ASCII text is copied into a new compact string without the UTF-8
/// decoder's scan (most of a Windows record's values are ASCII).
fn py_string<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyString> {
    if !text.is_ascii() {
        return PyString::new(py, text);
    }
    // SAFETY: PyUnicode_New(n, 127) makes a compact ASCII string of n bytes (NUL-terminated by
    // CPython) whose data we fill completely before anyone sees it.
    unsafe {
        let made = pyo3::ffi::PyUnicode_New(text.len() as pyo3::ffi::Py_ssize_t, 127);
        if made.is_null() {
            return PyString::new(py, text); // out of memory: let PyO3 report it
        }
        std::ptr::copy_nonoverlapping(
            text.as_ptr(),
            pyo3::ffi::PyUnicode_DATA(made) as *mut u8,
            text.len(),
        );
        Bound::from_owned_ptr(py, made).cast_into_unchecked()
    }
}

/// An evtx_dump record as the mapping reads it: System's values and attributes, the EventData.
trait Record<'py> {
    /// `System[key]`, None when missing or null.
    fn value(&self, key: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>>;
    /// `System[key]["#attributes"][attribute]` (windows._attrs), None when missing or null.
    fn attribute(
        &self,
        key: &Bound<'py, PyString>,
        attribute: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyAny>>>;
    /// windows._data_fields of EventData, None when the record has none.
    fn event_data(&self) -> PyResult<Option<Bound<'py, PyDict>>>;
}

/// A record decoded by orjson.
struct DictRecord<'py> {
    root: Bound<'py, PyDict>,
    system: Option<Bound<'py, PyDict>>,
}

impl<'py> DictRecord<'py> {
    /// Refused unless {"Event": {"System": {…}}} without UserData (left to Python).
    fn new(py: Python<'py>, record: &Bound<'py, PyAny>) -> PyResult<Self> {
        let record = record.cast_exact::<PyDict>().map_err(|_| refuse())?;
        let root = exact_dict(record.get_item(intern!(py, "Event"))?)?.ok_or_else(refuse)?;
        let system = exact_dict(root.get_item(intern!(py, "System"))?)?.ok_or_else(refuse)?;
        if root.contains(intern!(py, "UserData"))? {
            return Err(refuse());
        }
        Ok(DictRecord {
            root,
            system: Some(system),
        })
    }
}

impl<'py> Record<'py> for DictRecord<'py> {
    fn value(&self, key: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
        get(&self.system, key)
    }

    fn attribute(
        &self,
        key: &Bound<'py, PyString>,
        attribute: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        get(&attributes(get(&self.system, key)?)?, attribute)
    }

    fn event_data(&self) -> PyResult<Option<Bound<'py, PyDict>>> {
        match self.root.get_item(intern!(self.root.py(), "EventData"))? {
            Some(node) => event_data_of(&node).map(Some),
            None => Ok(None),
        }
    }
}

/// A record read from its JSON text by json.rs: values become Python objects only when read.
struct JsonRecord<'py, 'a> {
    py: Python<'py>,
    input: &'a [u8],
    names: &'a RefCell<Names>,
    doc: Doc,
    root: Node,
    system: Node,
}

impl<'py, 'a> JsonRecord<'py, 'a> {
    /// None when orjson must read the text, or the record is not one `event` would map.
    fn new(py: Python<'py>, input: &'a [u8], names: &'a RefCell<Names>) -> Option<Self> {
        let doc = json::parse(input)?;
        let root = doc.get(input, doc.root, "Event")?;
        let system = doc.get(input, root, "System")?;
        if system.kind() != JsonKind::Object || doc.get(input, root, "UserData").is_some() {
            return None;
        }
        Some(JsonRecord {
            py,
            input,
            names,
            doc,
            root,
            system,
        })
    }

    /// The value as orjson makes it; refused for what json.rs does not keep (floats, bools,
    /// lists, integers past i64).
    fn to_py(&self, node: Node) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match self.doc.view(self.input, node) {
            json::View::Null => py.None().into_bound(py),
            json::View::Int(number) => PyInt::new(py, number).into_any(),
            json::View::Str(text) => py_string(py, &text).into_any(),
            json::View::Object => {
                let dict = PyDict::new(py);
                for (key, value) in self.doc.members(self.input, node) {
                    dict.set_item(PyString::new(py, &key), self.to_py(value)?)?;
                }
                dict.into_any()
            }
            json::View::Other => return Err(refuse()),
        })
    }

    /// The string of an EventData name, from `names` when it was seen before.
    fn name(&self, key: &str) -> Bound<'py, PyString> {
        let mut names = self.names.borrow_mut();
        if let Some(found) = names.get(key.as_bytes()) {
            return found.bind(self.py).clone();
        }
        let made = PyString::intern(self.py, key);
        if names.len() < NAMES_MAX {
            names.insert(key.as_bytes().into(), made.clone().unbind());
        }
        made
    }

    fn found(&self, node: Option<Node>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match node {
            Some(node) if node.kind() != JsonKind::Null => self.to_py(node).map(Some),
            _ => Ok(None),
        }
    }
}

impl<'py> Record<'py> for JsonRecord<'py, '_> {
    fn value(&self, key: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.found(self.doc.get(self.input, self.system, key.to_str()?))
    }

    fn attribute(
        &self,
        key: &Bound<'py, PyString>,
        attribute: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let attributes = self
            .doc
            .get(self.input, self.system, key.to_str()?)
            .and_then(|node| self.doc.get(self.input, node, "#attributes"));
        self.found(
            attributes.and_then(|node| self.doc.get(self.input, node, attribute.to_str().ok()?)),
        )
    }

    fn event_data(&self) -> PyResult<Option<Bound<'py, PyDict>>> {
        let py = self.py;
        let Some(node) = self.doc.get(self.input, self.root, "EventData") else {
            return Ok(None);
        };
        if node.kind() != JsonKind::Object {
            return Ok(Some(PyDict::new(py))); // windows._data_fields of a non-object
        }
        // orjson's dict first (a repeated name: its first place, its last value), then
        // event_data_of's checks and renaming as for a decoded record
        let dict = PyDict::new(py);
        let mut spaced = false;
        for (key, value) in self.doc.members(self.input, node) {
            if matches!(value.kind(), JsonKind::Object | JsonKind::Other) {
                return Err(refuse());
            }
            spaced |= key.contains(' ');
            dict.set_item(self.name(&key), self.to_py(value)?)?;
        }
        if spaced
            || dict.contains(intern!(py, "Data"))?
            || dict.contains(intern!(py, "#attributes"))?
        {
            return event_data_of(dict.as_any()).map(Some);
        }
        Ok(Some(dict))
    }
}
