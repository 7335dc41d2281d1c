//! A tiny blocking HTTP client over ureq 3 that reports every status as a
//! response (4xx/5xx are results to assert on, not errors), never follows
//! redirects, ignores proxy env vars, and has a timeout on every call.

use serde_json::Value;
use std::io::Read;
use std::time::Duration;

/// Default bound for one call (head and body).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A request being built: `Call::new("POST", url).bearer(k).json(&v).send()`.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// A fully read response.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    /// Lower-case names, in arrival order, repeated names kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response whose body is read as it arrives (streaming tests).
pub struct Streaming {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub reader: ureq::BodyReader<'static>,
}

impl Call {
    pub fn new(method: &str, url: impl Into<String>) -> Call {
        Call {
            method: method.to_owned(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: CALL_TIMEOUT,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Call {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Call {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// Sets the body and `content-type: application/json`.
    pub fn json(mut self, value: &Value) -> Call {
        self.body = Some(value.to_string().into_bytes());
        self.header("content-type", "application/json")
    }

    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Call {
        self.body = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Call {
        self.timeout = t;
        self
    }

    fn agent(&self) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .allow_non_standard_methods(true)
            .timeout_global(Some(self.timeout))
            .build();
        ureq::Agent::new_with_config(config)
    }

    fn run(&self) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut b = ureq::http::Request::builder()
            .method(self.method.as_str())
            .uri(self.url.as_str());
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let agent = self.agent();
        match &self.body {
            Some(body) => agent.run(b.body(body.clone()).expect("valid request")),
            None => agent.run(b.body(()).expect("valid request")),
        }
    }

    /// Sends and reads the whole body. Transport errors (refused, timeout,
    /// body cut short) are `Err`.
    pub fn try_send(&self) -> Result<Resp, ureq::Error> {
        let resp = self.run()?;
        let (status, headers) = head_of(&resp);
        let body = resp.into_body().with_config().limit(u64::MAX).read_to_vec()?;
        Ok(Resp { status, headers, body })
    }

    /// Like [`Call::try_send`], panicking on a transport error.
    pub fn send(&self) -> Resp {
        self.try_send()
            .unwrap_or_else(|e| panic!("{} {} failed: {e}", self.method, self.url))
    }

    /// Sends and returns once the response head arrived; read the body from
    /// `reader` (the call's timeout still bounds the whole exchange).
    pub fn open(&self) -> Streaming {
        let resp = self
            .run()
            .unwrap_or_else(|e| panic!("{} {} failed: {e}", self.method, self.url));
        let (status, headers) = head_of(&resp);
        Streaming {
            status,
            headers,
            reader: resp.into_body().into_reader(),
        }
    }
}

fn head_of(resp: &ureq::http::Response<ureq::Body>) -> (u16, Vec<(String, String)>) {
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    (resp.status().as_u16(), headers)
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Resp {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, panicking with the body text if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {} body is not JSON ({e}): {}", self.status, self.text()))
    }

    /// Asserts an OpenAI-shaped error `{"error":{"message","type","code"}}`
    /// with `status` and a JSON content type; returns the `error` object.
    pub fn assert_openai_error(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text());
        let ct = self.header("content-type").unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "content-type {ct:?}; body: {}",
            self.text()
        );
        let body = self.json();
        let err = &body["error"];
        for field in ["message", "type", "code"] {
            assert!(
                err[field].is_string(),
                "error.{field} missing or not a string in {body}"
            );
        }
        err.clone()
    }
}

impl Streaming {
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The next piece of body as it arrives (empty at the end).
    pub fn next_chunk(&mut self) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = self.reader.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Reads to the end: everything received, and the error that cut the
    /// body short, if any (an upstream failing mid-stream shows up here).
    pub fn read_all(&mut self) -> (Vec<u8>, Option<std::io::Error>) {
        let mut out = Vec::new();
        loop {
            match self.next_chunk() {
                Ok(c) if c.is_empty() => return (out, None),
                Ok(c) => out.extend_from_slice(&c),
                Err(e) => return (out, Some(e)),
            }
        }
    }
}
