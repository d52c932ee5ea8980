//! `GET /dashboard`: the ops page, one self-contained HTML file (`dashboard.html` beside this
//! file, inline CSS and JS, no CDN) embedded in the binary.
//!
//! The page holds no data and no secret: it asks the operator for the admin token, keeps it in
//! `sessionStorage` (gone when the tab closes), and reads everything from the admin API with
//! it. Served with a strict Content-Security-Policy that allows exactly the page's own inline
//! script and style (by hash), connections to this origin only, and no framing.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const PAGE: &str = include_str!("dashboard.html");

/// The text between the first `<{tag}>` and the following `</{tag}>`.
fn inline_block<'a>(html: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = html.find(&open)? + open.len();
    let end = start + html[start..].find(&close)?;
    Some(&html[start..end])
}

fn csp_hash(block: Option<&str>) -> String {
    let digest = Sha256::digest(block.unwrap_or_default().as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page's Content-Security-Policy, computed once from the embedded page.
static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        csp_hash(inline_block(PAGE, "script")),
        csp_hash(inline_block(PAGE, "style")),
    )
});

pub async fn page() -> Response {
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response();
    let headers = resp.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained_and_its_inline_code_is_allowed_by_hash() {
        assert!(inline_block(PAGE, "script").is_some_and(|s| s.len() > 100));
        assert!(inline_block(PAGE, "style").is_some_and(|s| s.len() > 100));
        assert_eq!(PAGE.matches("<script").count(), 1, "one inline script");
        assert_eq!(PAGE.matches("<style").count(), 1, "one inline style");
        // Nothing is loaded from elsewhere (the SVG namespace URI is a name, not a fetch).
        for remote in ["<link", " src=", "@import", "url(", "<iframe"] {
            assert!(
                !PAGE.contains(remote),
                "the page must not load anything: {remote}"
            );
        }
        assert!(CSP.contains("script-src 'sha256-"));
    }
}
