//! The demo page served at `/` when there is no `--static` directory: it connects to the
//! server (the path from `?path=`, default `/`; `?token=` passed on) and shows the live stream.

use ws_server::http::{HttpRequest, HttpResponse};

/// The page itself.
pub(crate) const PAGE: &str = include_str!("demo.html");

/// `GET /` (and `HEAD /`): the page; anything else: 404.
pub(crate) fn respond(req: &HttpRequest) -> HttpResponse {
    match (req.method().as_str(), req.path()) {
        ("GET" | "HEAD", "/") => HttpResponse::html(PAGE).header("Cache-Control", "no-store"),
        (_, "/") => HttpResponse::text("method not allowed\n").status(405),
        _ => HttpResponse::not_found(),
    }
}
