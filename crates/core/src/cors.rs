//! CORS: allowed origins from the `cors_allowed_origins` variable ("*" or a
//! comma-separated list); headers on every response, errors included.

use crate::http::Response;

pub struct Cors {
    any: bool,
    origins: Vec<String>,
}

pub const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
pub const DEFAULT_ALLOW_HEADERS: &str =
    "Authorization, Content-Type, X-Host-Final, If-Match, If-None-Match, OpenAI-Organization, OpenAI-Project";
pub const EXPOSE_HEADERS: &str =
    "x-request-id, x-ai-proxy-attempts, etag, retry-after, x-ratelimit-limit-requests, x-ratelimit-remaining-requests";

impl Cors {
    pub fn from_setting(setting: Option<&str>) -> Cors {
        let setting = setting.unwrap_or("*").trim();
        let origins: Vec<String> = setting
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        Cors {
            any: origins.is_empty() || origins.iter().any(|o| o == "*"),
            origins,
        }
    }

    /// The `access-control-allow-origin` value for a request's `Origin`.
    pub fn allow_origin(&self, origin: Option<&str>) -> Option<String> {
        if self.any {
            return Some("*".into());
        }
        let origin = origin?;
        self.origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            .then(|| origin.to_owned())
    }

    pub fn decorate<B>(&self, resp: &mut Response<B>, origin: Option<&str>) {
        if let Some(allowed) = self.allow_origin(origin) {
            if allowed != "*" {
                resp.set_header("vary", "Origin");
            }
            resp.set_header("access-control-allow-origin", allowed);
            resp.set_header("access-control-expose-headers", EXPOSE_HEADERS);
        }
    }

    /// Answer to an `OPTIONS` preflight.
    pub fn preflight<B>(&self, origin: Option<&str>, requested_headers: Option<&str>) -> Response<B> {
        let mut resp = Response {
            status: 204,
            headers: Vec::new(),
            body: crate::http::Body::Empty,
        };
        if self.allow_origin(origin).is_some() {
            resp.set_header("access-control-allow-methods", ALLOW_METHODS);
            // Echo what the browser asks for (SDKs send x-stainless-* etc.);
            // fall back to the list we know.
            let headers = requested_headers
                .filter(|h| !h.trim().is_empty())
                .unwrap_or(DEFAULT_ALLOW_HEADERS);
            resp.set_header("access-control-allow-headers", headers);
            resp.set_header("access-control-max-age", "86400");
            self.decorate(&mut resp, origin);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_allows_every_origin() {
        let c = Cors::from_setting(Some("*"));
        assert_eq!(c.allow_origin(Some("https://a.test")).as_deref(), Some("*"));
        assert_eq!(c.allow_origin(None).as_deref(), Some("*"));
    }

    #[test]
    fn list_allows_only_listed_origins() {
        let c = Cors::from_setting(Some("https://a.test, https://b.test/"));
        assert_eq!(
            c.allow_origin(Some("https://b.test")).as_deref(),
            Some("https://b.test")
        );
        assert_eq!(c.allow_origin(Some("https://evil.test")), None);
        let mut r: Response<()> = Response::bytes(200, "text/plain", vec![]);
        c.decorate(&mut r, Some("https://a.test"));
        assert_eq!(r.header("vary"), Some("Origin"));
    }

    #[test]
    fn preflight_lists_methods_headers_and_max_age() {
        let c = Cors::from_setting(None);
        let r: Response<()> = c.preflight(Some("https://x.test"), None);
        assert_eq!(r.status, 204);
        assert!(r
            .header("access-control-allow-headers")
            .unwrap()
            .contains("X-Host-Final"));
        assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
        assert_eq!(r.header("access-control-max-age"), Some("86400"));
    }
}
