//! The edge check, run from the very file CloudFront runs (`functions/edge-check/index.js`) in an
//! embedded QuickJS engine, with CloudFront's viewer-request event shape in and its response shape
//! out. No Rust twin: what the local stack does at the edge is what production does.
//!
//! The file is an ES module, as cloudfront-js-2.0 loads it: its two imports are provided here.
//! `cloudfront` offers `kvs()` with `exists` and `get` (CloudFront's KeyValueStore helpers) over a
//! [`KvsReader`] (in `keyhole serve`, the deny-list file in the state folder); `crypto` offers
//! `createHash('sha256')` with `update` and `digest('hex')`, the part of CloudFront's crypto
//! module the function uses. The handler is `async`, so each run drives QuickJS's job queue until
//! its promise settles.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rquickjs::loader::{BuiltinLoader, BuiltinResolver};
use rquickjs::{CatchResultExt, Context, Function, Module, Persistent, Promise, Runtime};
use serde_json::{Map, Value, json};

use crate::ServeError;

/// The edge-check source, embedded at build time from the file that deployment uploads.
pub const EDGE_CHECK_SOURCE: &str = include_str!("../../../functions/edge-check/index.js");

/// The one line that deployment rewrites to set the sign-in URL.
pub const SIGN_IN_URL_LINE: &str = "const SIGN_IN_URL = '';";

/// CloudFront stops a function that runs too long; the stand-in does the same rather than hang a
/// worker on a runaway loop. Far above what the check needs (microseconds).
const TIME_BUDGET: Duration = Duration::from_millis(50);

/// CloudFront Functions get 2 MB of memory; so does each engine here.
const MEMORY_LIMIT: usize = 2 * 1024 * 1024;

/// What the function's `cf.kvs()` reads: one key's value, `None` when absent, `Err` when the
/// store cannot be read (the function's `get`/`exists` then reject).
pub trait KvsReader: Send + Sync {
    /// The value stored under `key`.
    fn get(&self, key: &str) -> Result<Option<String>, String>;
}

// CloudFront's `cloudfront` module, as far as the function uses it. `get` rejects for a missing
// key, as CloudFront documents; only the string and json formats are offered. The edge check looks
// up several keys on every request, most of them missing, so the two methods return settled
// promises rather than run as async functions, `kvs()` hands out one store object, and a missing
// key's rejection is an `Error` without a stack trace (QuickJS formats a backtrace for every
// `new Error`, which cost more than the lookup itself).
const CLOUDFRONT_MODULE: &str = r#"
function keyNotFound() {
    var e = Object.create(Error.prototype);
    e.message = 'Key not found';
    return e;
}
var store = {
    exists(key) {
        try {
            var v = __keyhole_kvs_get(String(key));
            return Promise.resolve(v !== undefined && v !== null);
        } catch (e) {
            return Promise.reject(e);
        }
    },
    get(key, options) {
        try {
            var v = __keyhole_kvs_get(String(key));
            if (v === undefined || v === null) {
                return Promise.reject(keyNotFound());
            }
            var format = options && options.format;
            if (format === 'json') {
                return Promise.resolve(JSON.parse(v));
            }
            if (format !== undefined && format !== 'string') {
                throw new Error('format ' + format + ' is not offered by keyhole serve');
            }
            return Promise.resolve(v);
        } catch (e) {
            return Promise.reject(e);
        }
    }
};
export default {
    kvs() {
        if (!globalThis.__keyhole_kvs_present) {
            throw new Error('no key value store is associated with this function');
        }
        return store;
    }
};
"#;

// CloudFront's `crypto` module, as far as the function uses it.
const CRYPTO_MODULE: &str = r#"
export default {
    createHash(algorithm) {
        if (algorithm !== 'sha256') {
            throw new Error('keyhole serve offers only sha256');
        }
        var data = '';
        return {
            update(s) { data += String(s); return this; },
            digest(encoding) {
                if (encoding !== 'hex') {
                    throw new Error('keyhole serve offers only hex digests');
                }
                return __keyhole_sha256_hex(data);
            }
        };
    }
};
"#;

fn sha256_hex(data: String) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data.as_bytes());
    let mut out = String::with_capacity(64);
    for b in hash.as_ref() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Rewrites the config line the way deployment tooling does. An error if the source no longer
/// holds that exact line (deployment would then silently ship no sign-in URL).
pub fn with_sign_in_url(source: &str, url: &str) -> Result<String, ServeError> {
    if source.matches(SIGN_IN_URL_LINE).count() != 1 {
        return Err(ServeError::EdgeCheck(format!(
            "the source must hold exactly one `{SIGN_IN_URL_LINE}` line"
        )));
    }
    let literal = url.replace('\\', "\\\\").replace('\'', "\\'");
    Ok(source.replacen(
        SIGN_IN_URL_LINE,
        &format!("const SIGN_IN_URL = '{literal}';"),
        1,
    ))
}

/// What the function decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeOutcome {
    /// It returned the request: CloudFront goes on (to its own signed-cookie check).
    Pass,
    /// It answered the viewer itself.
    Respond(EdgeResponse),
}

/// A response generated by the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeResponse {
    /// HTTP status.
    pub status: u16,
    /// Header names (lowercase, as the function wrote them) and values.
    pub headers: Vec<(String, String)>,
    /// The text body, if any.
    pub body: Option<String>,
}

struct Engine {
    // Field order matters: the functions, then the context, must be dropped before the runtime.
    run_fn: Persistent<Function<'static>>,
    decide_fn: Persistent<Function<'static>>,
    context: Context,
    _runtime: Runtime,
    deadline: Arc<AtomicU64>,
    epoch: Instant,
}

impl Engine {
    fn new(source: &str, kvs: Option<Arc<dyn KvsReader>>) -> Result<Self, ServeError> {
        let runtime = Runtime::new().map_err(js_error)?;
        runtime.set_memory_limit(MEMORY_LIMIT);
        runtime.set_loader(
            BuiltinResolver::default()
                .with_module("cloudfront")
                .with_module("crypto"),
            BuiltinLoader::default()
                .with_module("cloudfront", CLOUDFRONT_MODULE)
                .with_module("crypto", CRYPTO_MODULE),
        );
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let epoch = Instant::now();
        let watch = Arc::clone(&deadline);
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let now = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
            now > watch.load(Ordering::Relaxed)
        })));
        let context = Context::full(&runtime).map_err(js_error)?;
        let (run_fn, decide_fn) = context.with(|ctx| {
            let globals = ctx.globals();
            let present = kvs.is_some();
            let setup = globals
                .set("__keyhole_kvs_present", present)
                .and_then(|()| {
                    globals.set(
                        "__keyhole_kvs_get",
                        Function::new(
                            ctx.clone(),
                            move |key: String| -> rquickjs::Result<Option<String>> {
                                match &kvs {
                                    None => Ok(None),
                                    Some(store) => store.get(&key).map_err(|e| {
                                        tracing::warn!(error = %e, "the local deny-list could not be read");
                                        rquickjs::Error::new_from_js_message("kvs", "value", e)
                                    }),
                                }
                            },
                        )?,
                    )
                })
                .and_then(|()| {
                    globals.set(
                        "__keyhole_sha256_hex",
                        Function::new(ctx.clone(), sha256_hex)?,
                    )
                });
            setup.map_err(js_error)?;
            // A module, as cloudfront-js-2.0 loads it. CloudFront calls its top-level `handler`;
            // the added line only hands that function out of the module's scope.
            let (_, done) = Module::declare(
                ctx.clone(),
                "index.js",
                format!("{source}\nglobalThis.handler = handler;\n"),
            )
            .and_then(|m| m.eval())
            .catch(&ctx)
            .map_err(|e| ServeError::EdgeCheck(format!("loading the function: {e}")))?;
            done.finish::<()>()
                .catch(&ctx)
                .map_err(|e| ServeError::EdgeCheck(format!("loading the function: {e}")))?;
            // Move the event in and the result out as JSON; both await an async handler.
            // `__keyhole_run` returns whatever the handler returned. `__keyhole_decide`, what the
            // stand-in calls per request, returns a returned request (an object with a `uri` and
            // no `statusCode`) as its `uri` alone: the stand-in only needs to know that the
            // request goes on, and copying the whole request (its cookies included) back out
            // costs more than the rest of the check.
            ctx.eval::<(), _>(
                "async function __keyhole_run(e) { return JSON.stringify(await handler(JSON.parse(e))); }
                async function __keyhole_decide(e) {
                    var r = await handler(JSON.parse(e));
                    if (r !== null && typeof r === 'object' && r.statusCode === undefined && typeof r.uri === 'string') {
                        return JSON.stringify({ uri: r.uri });
                    }
                    return JSON.stringify(r);
                }",
            )
            .catch(&ctx)
            .map_err(|e| ServeError::EdgeCheck(e.to_string()))?;
            let handler: Option<Function> = ctx.globals().get("handler").ok();
            if handler.is_none() {
                return Err(ServeError::EdgeCheck(
                    "the source defines no `handler` function".into(),
                ));
            }
            let wrapper = |name: &str| -> Result<Persistent<Function<'static>>, ServeError> {
                let f: Function = ctx.globals().get(name).map_err(js_error)?;
                Ok(Persistent::save(&ctx, f))
            };
            Ok((wrapper("__keyhole_run")?, wrapper("__keyhole_decide")?))
        })?;
        Ok(Self {
            run_fn,
            decide_fn,
            context,
            _runtime: runtime,
            deadline,
            epoch,
        })
    }

    /// Runs the handler on `event`; with `full`, returns all it returned, else a returned
    /// request as its `uri` alone (see `__keyhole_decide`).
    fn run(&self, event: &str, full: bool) -> Result<String, String> {
        let budget = self.epoch.elapsed() + TIME_BUDGET;
        self.deadline.store(
            u64::try_from(budget.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let wrapper = if full { &self.run_fn } else { &self.decide_fn };
        let result = self.context.with(|ctx| {
            let run: Function = wrapper.clone().restore(&ctx).map_err(|e| e.to_string())?;
            run.call::<_, Promise>((event,))
                .and_then(|p| p.finish::<String>())
                .catch(&ctx)
                .map_err(|e| e.to_string())
        });
        self.deadline.store(u64::MAX, Ordering::Relaxed);
        result
    }
}

fn js_error(e: rquickjs::Error) -> ServeError {
    ServeError::EdgeCheck(e.to_string())
}

/// Why the edge check gave no decision. Either way the stand-in fails closed with CloudFront's
/// 503 (`FunctionExecutionError` or `FunctionThrottledError`), never a pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdgeError {
    /// The function threw, ran past its budget, or returned something unreadable.
    #[error("{0}")]
    Failed(String),
    /// Every engine is busy and the queue in front of them is full.
    #[error("every edge-check engine is busy and {0} requests are already waiting")]
    Saturated(usize),
}

impl From<EdgeError> for ServeError {
    fn from(e: EdgeError) -> Self {
        ServeError::EdgeCheck(e.to_string())
    }
}

/// How many requests may wait for an engine, per engine, before more are refused: each run is
/// bounded by [`TIME_BUDGET`], so a request waits at most about this many budgets.
const QUEUE_PER_ENGINE: usize = 16;

/// One request for an engine: the event, and where its result goes.
struct Job {
    event: String,
    /// Whether the whole result is wanted, or only the decision (see `Engine::run`).
    full: bool,
    reply: tokio::sync::oneshot::Sender<Result<Value, EdgeError>>,
}

/// A fixed set of threads, one engine each, loaded with the edge-check source and fed by one
/// bounded queue: the JavaScript never runs on the async workers (a slow or hostile request can
/// occupy at most the engines, never the runtime that serves everything else), and when the
/// queue is full a request is refused at once instead of waiting without bound. Dropping the
/// pool stops its threads.
pub struct EdgeCheck {
    queue: std::sync::mpsc::SyncSender<Job>,
    engines: usize,
    capacity: usize,
}

impl std::fmt::Debug for EdgeCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeCheck")
            .field("engines", &self.engines)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl EdgeCheck {
    /// Loads `source` (with the sign-in URL written into its config line when given) into
    /// `engines` interpreters, each on its own thread. Fails with the engine's message if the
    /// source does not load.
    pub fn new(
        source: &str,
        sign_in_url: Option<&str>,
        engines: usize,
    ) -> Result<Self, ServeError> {
        Self::with_store(source, sign_in_url, engines, None)
    }

    /// [`EdgeCheck::new`] with a KeyValueStore associated (`None`: none is, and the function's
    /// `cf.kvs()` throws, as CloudFront's does).
    pub fn with_store(
        source: &str,
        sign_in_url: Option<&str>,
        engines: usize,
        kvs: Option<Arc<dyn KvsReader>>,
    ) -> Result<Self, ServeError> {
        let engines = engines.max(1);
        Self::with_queue(
            source,
            sign_in_url,
            engines,
            engines * QUEUE_PER_ENGINE,
            kvs,
        )
    }

    /// As [`EdgeCheck::with_store`], with `capacity` requests allowed to wait for an engine.
    pub fn with_queue(
        source: &str,
        sign_in_url: Option<&str>,
        engines: usize,
        capacity: usize,
        kvs: Option<Arc<dyn KvsReader>>,
    ) -> Result<Self, ServeError> {
        let source = Arc::new(match sign_in_url {
            Some(url) => with_sign_in_url(source, url)?,
            None => source.to_owned(),
        });
        let engines = engines.max(1);
        let (queue, jobs) = std::sync::mpsc::sync_channel::<Job>(capacity);
        let jobs = Arc::new(Mutex::new(jobs));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        for i in 0..engines {
            let source = Arc::clone(&source);
            let jobs = Arc::clone(&jobs);
            let ready = ready_tx.clone();
            let kvs = kvs.clone();
            std::thread::Builder::new()
                .name(format!("edge-check-{i}"))
                .spawn(move || match Engine::new(&source, kvs) {
                    Ok(engine) => {
                        let _ = ready.send(Ok(()));
                        drop(ready);
                        work(&engine, &jobs);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                })
                .map_err(|e| ServeError::EdgeCheck(format!("starting an engine thread: {e}")))?;
        }
        drop(ready_tx);
        for _ in 0..engines {
            ready_rx.recv().map_err(|_| {
                ServeError::EdgeCheck("an engine thread ended while loading".into())
            })??;
        }
        Ok(Self {
            queue,
            engines,
            capacity,
        })
    }

    /// The embedded source with one engine per available core.
    pub fn embedded(
        sign_in_url: Option<&str>,
        kvs: Option<Arc<dyn KvsReader>>,
    ) -> Result<Self, ServeError> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_store(EDGE_CHECK_SOURCE, sign_in_url, cores, kvs)
    }

    /// Queues `event` for the next free engine; the receiver gets its result.
    fn submit(
        &self,
        event: String,
        full: bool,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Value, EdgeError>>, EdgeError> {
        let (reply, result) = tokio::sync::oneshot::channel();
        self.queue
            .try_send(Job { event, full, reply })
            .map_err(|e| match e {
                std::sync::mpsc::TrySendError::Full(_) => EdgeError::Saturated(self.capacity),
                std::sync::mpsc::TrySendError::Disconnected(_) => {
                    EdgeError::Failed("the edge-check engines have stopped".into())
                }
            })?;
        Ok(result)
    }

    /// Calls `handler(event)` with the event given as JSON text (so its key order is kept) on
    /// one of the pool's engines, and returns what it returned, as JSON. A thrown exception, a
    /// timeout or a non-JSON result is [`EdgeError::Failed`] (CloudFront answers those with a
    /// 503); a full queue is [`EdgeError::Saturated`].
    pub async fn run(&self, event: String) -> Result<Value, EdgeError> {
        self.submit(event, true)?
            .await
            .map_err(|_| EdgeError::Failed("an edge-check engine stopped".into()))?
    }

    /// [`EdgeCheck::run`] for callers outside an async runtime (tests, tools).
    pub fn run_event(&self, event: &str) -> Result<Value, ServeError> {
        Ok(self
            .submit(event.to_owned(), true)?
            .blocking_recv()
            .map_err(|_| EdgeError::Failed("an edge-check engine stopped".into()))??)
    }

    /// Runs the function on a viewer-request event (JSON text) and reads its decision.
    pub async fn check(&self, event: String) -> Result<EdgeOutcome, EdgeError> {
        let result = self
            .submit(event, false)?
            .await
            .map_err(|_| EdgeError::Failed("an edge-check engine stopped".into()))??;
        outcome(&result).map_err(|e| EdgeError::Failed(e.to_string()))
    }

    /// [`EdgeCheck::check`] for callers outside an async runtime.
    pub fn check_blocking(&self, event: &str) -> Result<EdgeOutcome, ServeError> {
        outcome(&self.run_event(event)?)
    }
}

/// An engine thread's loop: take the next job, skip it if its requester has gone, answer it.
/// Ends when the pool is dropped (the queue disconnects).
fn work(engine: &Engine, jobs: &Mutex<std::sync::mpsc::Receiver<Job>>) {
    loop {
        let job = {
            let Ok(jobs) = jobs.lock() else { return };
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if job.reply.is_closed() {
            continue;
        }
        let result = engine
            .run(&job.event, job.full)
            .map_err(|e| EdgeError::Failed(format!("the function failed: {e}")))
            .and_then(|out| {
                serde_json::from_str(&out).map_err(|e| {
                    EdgeError::Failed(format!("the function returned no JSON object: {e}"))
                })
            });
        let _ = job.reply.send(result);
    }
}

/// Reads a function result: an object with `statusCode` is a response, anything with a `uri` is
/// the (possibly unchanged) request.
pub fn outcome(result: &Value) -> Result<EdgeOutcome, ServeError> {
    let Some(obj) = result.as_object() else {
        return Err(ServeError::EdgeCheck(
            "the function returned something other than an object".into(),
        ));
    };
    let Some(status) = obj.get("statusCode") else {
        if obj.contains_key("uri") {
            return Ok(EdgeOutcome::Pass);
        }
        return Err(ServeError::EdgeCheck(
            "the function returned neither a request nor a response".into(),
        ));
    };
    let status = status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| ServeError::EdgeCheck("statusCode is not an HTTP status".into()))?;
    let mut headers = Vec::new();
    if let Some(map) = obj.get("headers").and_then(Value::as_object) {
        for (name, v) in map {
            if let Some(value) = v.get("value").and_then(Value::as_str) {
                headers.push((name.to_ascii_lowercase(), value.to_owned()));
            }
        }
    }
    let body = match obj.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(b) => match (
            b.get("encoding").and_then(Value::as_str),
            b.get("data").and_then(Value::as_str),
        ) {
            (Some("text") | None, Some(data)) => Some(data.to_owned()),
            _ => {
                return Err(ServeError::EdgeCheck(
                    "only text bodies are supported".into(),
                ));
            }
        },
    };
    Ok(EdgeOutcome::Respond(EdgeResponse {
        status,
        headers,
        body,
    }))
}

/// The parts of an HTTP request that CloudFront hands a viewer-request function.
#[derive(Debug, Clone, Default)]
pub struct ViewerRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path, as received (percent-encoded).
    pub uri: &'a str,
    /// Raw query string, without `?`.
    pub query: Option<&'a str>,
    /// Header names and values, in arrival order (the `cookie` header becomes `cookies`).
    pub headers: Vec<(&'a str, &'a str)>,
    /// The viewer's address.
    pub client_ip: Option<IpAddr>,
    /// The distribution's domain name, for the event context.
    pub domain: &'a str,
}

/// Builds CloudFront's viewer-request event as JSON text: lowercase header names, `{value}`
/// objects with `multiValue` for repeats, cookies parsed out of the `cookie` header, query values
/// left as sent. Names keep their arrival order (as CloudFront's do: a function iterating the query
/// string sees it in the viewer's order), which is why this writes the text itself rather than
/// going through a sorted map.
pub fn viewer_request_event(req: &ViewerRequest<'_>) -> String {
    let mut headers = Ordered::default();
    let mut cookies = Ordered::default();
    for (name, value) in &req.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            for (k, v) in keyhole_core::parse_cookie_header(value) {
                cookies.push(k, v);
            }
        } else {
            headers.push(&name, value);
        }
    }
    let mut query = Ordered::default();
    for pair in req.query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.push(k, v);
    }
    let context = json!({
        "distributionDomainName": req.domain,
        "distributionId": "KEYHOLELOCAL",
        "eventType": "viewer-request",
        "requestId": "local",
    });
    let viewer = json!({ "ip": req.client_ip.map(|ip| ip.to_string()).unwrap_or_default() });
    format!(
        r#"{{"version":"1.0","context":{context},"viewer":{viewer},"request":{{"method":{},"uri":{},"querystring":{},"headers":{},"cookies":{}}}}}"#,
        Value::from(req.method),
        Value::from(req.uri),
        query.to_json(),
        headers.to_json(),
        cookies.to_json(),
    )
}

/// Names in first-seen order, each with all its values.
#[derive(Default)]
struct Ordered(Vec<(String, Vec<String>)>);

impl Ordered {
    fn push(&mut self, name: &str, value: &str) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value.to_owned()),
            None => self.0.push((name.to_owned(), vec![value.to_owned()])),
        }
    }

    fn to_json(&self) -> String {
        let entries: Vec<String> = self
            .0
            .iter()
            .map(|(name, values)| {
                let mut entry = Map::new();
                entry.insert("value".into(), Value::String(values[0].clone()));
                if values.len() > 1 {
                    entry.insert(
                        "multiValue".into(),
                        Value::Array(values.iter().map(|v| json!({ "value": v })).collect()),
                    );
                }
                format!("{}:{}", Value::from(name.as_str()), Value::Object(entry))
            })
            .collect();
        format!("{{{}}}", entries.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared table (functions/edge-check/cases.json), checked here against the embedded
    /// engine exactly as test.mjs checks it under node.
    #[derive(serde::Deserialize)]
    struct Table {
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Case {
        name: String,
        sign_in_url: Option<String>,
        // Kept as text: the order of names in the event is part of what the function sees.
        event: Box<serde_json::value::RawValue>,
        expect: Value,
        kvs: Option<Value>,
    }

    /// A case's store: an object of keys and values, or "unreadable".
    struct CaseStore(Option<std::collections::HashMap<String, String>>);

    impl KvsReader for CaseStore {
        fn get(&self, key: &str) -> Result<Option<String>, String> {
            match &self.0 {
                Some(map) => Ok(map.get(key).cloned()),
                None => Err("the store could not be read".into()),
            }
        }
    }

    fn case_store(kvs: &Option<Value>) -> Option<Arc<dyn KvsReader>> {
        let kvs = kvs.as_ref()?;
        let map = kvs.as_object().map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        });
        assert!(map.is_some() || kvs == "unreadable", "kvs: {kvs}");
        Some(Arc::new(CaseStore(map)))
    }

    fn cases() -> Vec<Case> {
        serde_json::from_str::<Table>(include_str!("../../../functions/edge-check/cases.json"))
            .unwrap()
            .cases
    }

    pub(crate) fn check_against_expectation(
        name: &str,
        result: &Value,
        expect: &Value,
        request: &Value,
    ) {
        if expect.get("pass").is_some() {
            assert_eq!(
                result, request,
                "{name}: the request must come back unchanged"
            );
            return;
        }
        assert_eq!(result["statusCode"], expect["statusCode"], "{name}");
        for (header, want) in expect["headers"].as_object().into_iter().flatten() {
            let got = result["headers"][header]["value"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: header {header} is missing"));
            let want = want.as_str().unwrap();
            match want.strip_suffix('*') {
                Some(prefix) => assert!(
                    got.starts_with(prefix),
                    "{name}: {header}: {got} should start with {prefix}"
                ),
                None => assert_eq!(got, want, "{name}: {header}"),
            }
        }
        if let Some(body) = expect.get("bodyJson") {
            assert_eq!(result["body"]["encoding"], "text", "{name}");
            let got: Value =
                serde_json::from_str(result["body"]["data"].as_str().unwrap()).unwrap();
            for (k, v) in body.as_object().unwrap() {
                assert_eq!(&got[k], v, "{name}: body field {k}");
            }
        }
    }

    #[test]
    fn every_case_in_the_shared_table_holds_in_the_embedded_engine() {
        let table = cases();
        let plain = EdgeCheck::new(EDGE_CHECK_SOURCE, None, 1).unwrap();
        for case in &table {
            let result = match (&case.sign_in_url, &case.kvs) {
                (None, None) => plain.run_event(case.event.get()).unwrap(),
                (url, kvs) => {
                    EdgeCheck::with_store(EDGE_CHECK_SOURCE, url.as_deref(), 1, case_store(kvs))
                        .unwrap()
                        .run_event(case.event.get())
                        .unwrap()
                }
            };
            let event: Value = serde_json::from_str(case.event.get()).unwrap();
            check_against_expectation(&case.name, &result, &case.expect, &event["request"]);
        }
        assert!(
            table.len() >= 10,
            "the table has only {} cases",
            table.len()
        );
    }

    #[test]
    fn the_sign_in_url_is_written_as_a_safe_literal() {
        let src = with_sign_in_url(EDGE_CHECK_SOURCE, "https://x.example/it's\\").unwrap();
        assert!(src.contains(r"const SIGN_IN_URL = 'https://x.example/it\'s\\';"));
        let check = EdgeCheck::new(EDGE_CHECK_SOURCE, Some("https://x.example/it's"), 1).unwrap();
        let event = viewer_request_event(&ViewerRequest {
            method: "GET",
            uri: "/users/x/a.png",
            headers: vec![("Accept", "text/html")],
            ..Default::default()
        });
        match check.check_blocking(&event).unwrap() {
            EdgeOutcome::Respond(r) => {
                assert_eq!(r.status, 302);
                assert!(
                    r.headers
                        .contains(&("location".into(), "https://x.example/it's".into()))
                );
            }
            EdgeOutcome::Pass => panic!("expected a redirect"),
        }
    }

    #[test]
    fn a_source_without_the_config_line_is_refused() {
        let err = with_sign_in_url("function handler(e) { return e.request; }", "/").unwrap_err();
        assert!(err.to_string().contains("SIGN_IN_URL"), "{err}");
    }

    #[test]
    fn a_source_that_does_not_parse_is_a_clear_error() {
        let err = EdgeCheck::new("function handler(event {", None, 1).unwrap_err();
        assert!(err.to_string().contains("loading the function"), "{err}");
    }

    #[test]
    fn a_source_without_a_handler_is_refused() {
        let err = EdgeCheck::new("var x = 1;", None, 1).unwrap_err();
        assert!(err.to_string().contains("handler"), "{err}");
    }

    #[test]
    fn a_throwing_function_is_an_error_not_a_pass() {
        let check =
            EdgeCheck::new("function handler(e) { throw new Error('boom'); }", None, 1).unwrap();
        let err = check.run_event(r#"{"request": {}}"#).unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
    }

    #[test]
    fn a_runaway_function_is_stopped_and_its_engine_stays_usable() {
        let check = EdgeCheck::new(
            "function handler(e) { if (e.spin) { for (;;) {} } return e.request; }",
            None,
            1,
        )
        .unwrap();
        let err = check
            .run_event(r#"{"spin": true, "request": {}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("interrupted"), "{err}");
        // The same (only) engine answers the next request.
        assert_eq!(
            check.run_event(r#"{"request": {"uri": "/"}}"#).unwrap(),
            json!({"uri": "/"})
        );
    }

    #[tokio::test]
    async fn a_full_queue_fails_closed_at_once_and_the_pool_recovers() {
        // One engine, one waiting place, a function that runs out its budget: of three requests
        // sent together at most two fit (one running, one waiting), the rest are refused.
        let check = Arc::new(
            EdgeCheck::with_queue(
                "function handler(e) { if (e.spin) { for (;;) {} } return e.request; }",
                None,
                1,
                1,
                None,
            )
            .unwrap(),
        );
        let spin = r#"{"spin": true, "request": {}}"#.to_owned();
        let results = futures_join(vec![
            check.run(spin.clone()),
            check.run(spin.clone()),
            check.run(spin),
        ])
        .await;
        let saturated = results
            .iter()
            .filter(|r| matches!(r, Err(EdgeError::Saturated(1))))
            .count();
        assert!(saturated >= 1, "{results:?}");
        for r in &results {
            assert!(r.is_err(), "a runaway function never passes: {r:?}");
        }
        // Once the engine is free again, requests are answered.
        assert_eq!(
            check
                .run(r#"{"request": {"uri": "/"}}"#.to_owned())
                .await
                .unwrap(),
            json!({"uri": "/"})
        );
    }

    /// Polls every future at once (all three are queued before any is awaited).
    async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
        let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
                if slot.is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => *slot = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        out.into_iter().flatten().collect()
    }

    #[test]
    fn the_event_has_cloudfronts_shape() {
        let event = viewer_request_event(&ViewerRequest {
            method: "GET",
            uri: "/users/u/a.png",
            query: Some("w=1&tag=a&tag=b&flag"),
            headers: vec![
                ("Host", "127.0.0.1:8080"),
                ("Cookie", "token=abc; theme=dark"),
                ("X-Two", "1"),
                ("x-two", "2"),
            ],
            client_ip: Some("127.0.0.1".parse().unwrap()),
            domain: "127.0.0.1:8080",
        });
        assert!(
            event.find(r#""w":"#).unwrap() < event.find(r#""tag":"#).unwrap(),
            "query names keep their order"
        );
        let event: Value = serde_json::from_str(&event).unwrap();
        let r = &event["request"];
        assert_eq!(r["headers"]["host"]["value"], "127.0.0.1:8080");
        assert!(
            r["headers"].get("cookie").is_none(),
            "cookies move out of the headers"
        );
        assert_eq!(r["cookies"]["token"]["value"], "abc");
        assert_eq!(r["headers"]["x-two"]["multiValue"][1]["value"], "2");
        assert_eq!(r["querystring"]["tag"]["multiValue"][0]["value"], "a");
        assert_eq!(r["querystring"]["flag"]["value"], "");
        assert_eq!(event["viewer"]["ip"], "127.0.0.1");
    }

    #[test]
    fn responses_and_requests_are_told_apart() {
        assert_eq!(outcome(&json!({"uri": "/x"})).unwrap(), EdgeOutcome::Pass);
        assert!(outcome(&json!({"statusCode": 99})).is_err());
        assert!(outcome(&json!([])).is_err());
        let r =
            outcome(&json!({"statusCode": 401, "headers": {"x": {"value": "y"}}, "body": "hi"}))
                .unwrap();
        assert_eq!(
            r,
            EdgeOutcome::Respond(EdgeResponse {
                status: 401,
                headers: vec![("x".into(), "y".into())],
                body: Some("hi".into())
            })
        );
    }
}
