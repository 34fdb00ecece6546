//! The demo page at `/` and its few static files, embedded in the binary so `keyhole serve` needs
//! nothing beside it.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{Response, StatusCode, header};

use crate::responses::respond_or_500;

const INDEX: &str = include_str!("../demo/page/index.html");
const FILES: [(&str, &str, &str); 4] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../demo/page/app.js"),
    ),
    // The session client itself, as an app would ship it.
    (
        "keyhole-session.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../clients/js/src/index.js"),
    ),
    (
        "classic.html",
        "text/html; charset=utf-8",
        include_str!("../demo/page/classic.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../demo/page/style.css"),
    ),
];

fn page(content_type: &str, body: &'static str) -> Response<Body> {
    respond_or_500(
        Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from(body)),
    )
}

/// `GET /`: the demo page (public; the assets it shows are not).
pub(crate) async fn index() -> Response<Body> {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /demo/<file>`.
pub(crate) async fn file(Path(name): Path<String>) -> Response<Body> {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => page(content_type, body),
        None => respond_or_500(
            Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::empty()),
        ),
    }
}
