//! The CORS step, as Envoy's CORS filter does it for a route's `corsPolicy`: a request with an
//! `Origin` is a CORS request; a preflight (`OPTIONS` with `Access-Control-Request-Method`) from
//! an allowed origin is answered here, 200 with the policy's headers, and never forwarded nor
//! mirrored; one from an origin not allowed goes upstream (`FORWARD`, the default) or is
//! answered 200 with no CORS header (`IGNORE`). Any other request from an allowed origin has
//! `access-control-allow-origin` (the origin itself), `-allow-credentials` and
//! `-expose-headers` set on its answer ([`RequestCtx::cors_marks`]), a redirect or a direct
//! response included.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use super::steps::Step;
use super::{RequestCtx, local};
use crate::model::Route;
use crate::model::http_policy::Cors;
use crate::upstream::UpstreamBody;

impl RequestCtx {
    /// 3. cors: see the module doc.
    pub(super) fn cors(&mut self, route: &Route) -> Step<()> {
        let Some(cors) = &route.cors else {
            return Ok(());
        };
        let headers = &self.parts.headers;
        let Some(origin) = headers.get(header::ORIGIN).filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        let allowed = origin.to_str().is_ok_and(|o| cors.allows(o));
        let requested =
            (headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)).filter(|m| !m.is_empty());
        let preflight = self.parts.method == Method::OPTIONS && requested.is_some();
        if !preflight {
            if allowed {
                self.cors_marks = marks(cors, origin);
            }
            return Ok(());
        }
        if !allowed {
            if cors.forward_unmatched_preflights {
                return Ok(());
            }
            let resp = local::empty(StatusCode::OK);
            return Err(Box::new(self.record.local_response(resp)));
        }
        let mut resp = local::empty(StatusCode::OK);
        preflight_headers(cors, origin, headers, resp.headers_mut());
        Err(Box::new(self.record.local_response(resp)))
    }

    /// Records a local answer, with the CORS headers an allowed origin gets.
    pub(super) fn marked(&mut self, mut resp: Response<UpstreamBody>) -> Response<UpstreamBody> {
        resp.headers_mut()
            .extend(std::mem::take(&mut self.cors_marks));
        self.record.local_response(resp)
    }
}

/// The headers of a preflight's answer, as Envoy sets them.
fn preflight_headers(cors: &Cors, origin: &HeaderValue, req: &HeaderMap, out: &mut HeaderMap) {
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    if cors.allow_credentials {
        let yes = HeaderValue::from_static("true");
        out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, yes);
    }
    if let Some(methods) = &cors.allow_methods {
        let value = if methods == "*" {
            req.get(header::ACCESS_CONTROL_REQUEST_METHOD)
        } else {
            Some(methods)
        };
        if let Some(v) = value {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v.clone());
        }
    }
    if let Some(allowed) = &cors.allow_headers {
        let value = if allowed == "*" {
            (req.get(header::ACCESS_CONTROL_REQUEST_HEADERS)).filter(|v| !v.is_empty())
        } else {
            Some(allowed)
        };
        if let Some(v) = value {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
        }
    }
    if let Some(age) = &cors.max_age {
        out.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
    }
}

/// The headers an allowed origin's answers get.
pub(super) fn marks(cors: &Cors, origin: &HeaderValue) -> HeaderMap {
    let mut out = HeaderMap::new();
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    if cors.allow_credentials {
        let yes = HeaderValue::from_static("true");
        out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, yes);
    }
    if let Some(expose) = &cors.expose_headers {
        out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matchers::StringMatcher;

    fn policy() -> Cors {
        Cors {
            origins: vec![StringMatcher::Exact("cors.com".into())],
            allow_methods: Some(HeaderValue::from_static("*")),
            allow_headers: Some(HeaderValue::from_static("*")),
            max_age: Some(HeaderValue::from(86400u64)),
            allow_credentials: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_wildcard_echoes_what_the_preflight_asks_for() {
        let mut req = HeaderMap::new();
        req.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("DELETE"),
        );
        let mut out = HeaderMap::new();
        let origin = HeaderValue::from_static("cors.com");
        preflight_headers(&policy(), &origin, &req, &mut out);
        assert_eq!(out["access-control-allow-methods"], "DELETE");
        assert!(
            out.get("access-control-allow-headers").is_none(),
            "none asked for"
        );
        assert_eq!(out["access-control-max-age"], "86400");
        assert_eq!(out["access-control-allow-credentials"], "true");
        req.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("x-a"),
        );
        preflight_headers(&policy(), &origin, &req, &mut out);
        assert_eq!(out["access-control-allow-headers"], "x-a");
    }
}
